/**
 * AWS → Azure by AWS outbound identity federation (issue 5, item 4, second source): the cell's AWS
 * credentials (STS AssumeRoleWithWebIdentity on moto, from a projected token file) sign an STS
 * GetWebIdentityToken call; the JWT it returns is the client assertion of an Entra federated
 * identity credential, exchanged through @azure/identity's ClientAssertionCredential at the Key
 * Vault emulator's Entra endpoint, whose token the vault accepts.
 *
 * Emulator gap: moto 5.2.5 does not implement GetWebIdentityToken (it answers the action with an
 * unrelated S3 document), so the recording proxy routes that one action to a stand-in
 * (test/support/sts-outbound-federation.ts) that verifies the SigV4 signature against the
 * credentials moto issued and mints RS256 JWTs shaped like AWS's. The emulator's federated
 * credential trusts the stand-in's issuer through its JWKS, as Entra trusts an account's STS issuer.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { SecretClient } from "@azure/keyvault-secrets";
import { CredmeshError } from "@credmesh/errors";
import {
  ClockSkewGuard,
  CredentialChain,
  chainedAwsCredentials,
  chainedTokenCredential,
  entraAssertionFetcher,
  fileAssertion,
  stsWebIdentityToken,
  tokenFromFile,
  webIdentityFetcher,
  type AzureAccessToken,
  type AzureTokenRequest,
  type ChainSource,
  type ClockSkewObservation,
  type EntraApplication,
} from "@credmesh/identity";
import { createLogger } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startKeyVaultEmulator, type KeyVaultEmulator } from "../emulators/keyvault/index.ts";
import { startMoto, type MotoPart } from "../support/parts.ts";
import { startRecordingProxy, type RecordingProxy } from "../support/recording-proxy.ts";
import { startServiceAccountIssuer, type ServiceAccountIssuer } from "../support/service-account-issuer.ts";
import { startStsOutboundFederation, type StsOutboundFederation } from "../support/sts-outbound-federation.ts";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/credmesh-replicator-aws`;
const CLIENT = "5b2f3c1d-0000-4000-8000-0000000000bb";
const AUDIENCE = "api://AzureADTokenExchange";

describe("Key Vault through an STS GetWebIdentityToken client assertion", () => {
  let moto: MotoPart;
  let proxy: RecordingProxy;
  let sts: StsOutboundFederation;
  let issuer: ServiceAccountIssuer;
  let kv: KeyVaultEmulator;
  let ca: string;
  let dir: string;
  let irsaTokenFile: string;
  let metrics: ReturnType<typeof createMetrics>;
  let logLines: string[];
  let refusals: ClockSkewObservation[];

  beforeAll(async () => {
    [moto, issuer] = await Promise.all([startMoto(), startServiceAccountIssuer()]);
    proxy = await startRecordingProxy(moto.endpoint);
    sts = await startStsOutboundFederation({
      account: ACCOUNT,
      region: REGION,
      // The stand-in knows a caller exactly as STS would: by the credentials STS issued to it.
      credentialsOf: (accessKeyId) => {
        const issued = proxy.issued.get(accessKeyId);
        return issued && { secretAccessKey: issued.secretAccessKey, sessionToken: issued.sessionToken, roleArn: issued.roleArn };
      },
    });
    proxy.route("GetWebIdentityToken", sts.endpoint);
    kv = await startKeyVaultEmulator({
      federatedCredentials: [{ clientId: CLIENT, issuer: sts.issuer, subject: ROLE_ARN, audience: AUDIENCE, jwksUri: sts.jwksUri }],
    });
    ca = readFileSync(kv.caCertPath, "utf8");
    dir = await mkdtemp(join(tmpdir(), "credmesh-outbound-"));
    irsaTokenFile = join(dir, "aws-web-identity-token");
    await issuer.writeTokenFile(irsaTokenFile, { audience: "sts.amazonaws.com" });
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled([proxy?.stop(), moto?.stop(), issuer?.stop(), sts?.stop(), kv?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    proxy.requests.length = 0;
    sts.offsetSeconds = 0;
    sts.enabled = true;
    metrics = createMetrics(new Registry(), { defaultMetrics: false });
    logLines = [];
    refusals = [];
  });

  /** The cell's two chains, as the replicator wires them, with `azure` sources picked by name. */
  function cell(azureSources: Array<"client-assertion" | "aws-web-identity-token"> = ["aws-web-identity-token"], azureTokenFile = join(dir, "not-mounted")) {
    const logger = createLogger({
      service: "replicator-aws",
      level: "debug",
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(chunk.toString("utf8"));
          done();
        },
      }),
    });
    const skew = new ClockSkewGuard({ metrics, logger, onRefusal: (o) => refusals.push(o) });
    const aws = chainedAwsCredentials(
      new CredentialChain(
        [
          {
            name: "web-identity-token-file",
            fetch: webIdentityFetcher(
              { roleArn: ROLE_ARN, sessionName: "credmesh-e2e-aws-1", durationSeconds: 3600, region: REGION, endpoint: proxy.endpoint },
              tokenFromFile(irsaTokenFile),
            ),
          },
        ],
        { name: "aws", metrics, logger },
      ),
    );
    const app: EntraApplication = { tenantId: kv.tenantId, clientId: CLIENT, authorityHost: kv.authorityHost, caFile: kv.caCertPath, maxRetries: 0 };
    const sources = azureSources.map((name): ChainSource<AzureTokenRequest, AzureAccessToken> => {
      const assertion =
        name === "client-assertion"
          ? fileAssertion(tokenFromFile(azureTokenFile))
          : stsWebIdentityToken({ region: REGION, endpoint: proxy.endpoint, audience: AUDIENCE }, aws, { logger });
      return { name, fetch: entraAssertionFetcher(app, assertion, { logger, clockSkew: { guard: skew, source: `azure/${name}` } }) };
    });
    const azure = chainedTokenCredential(new CredentialChain(sources, { name: "azure", metrics, logger }));
    const client = new SecretClient(kv.vaultUrl, azure, { tlsOptions: { ca }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } });
    return { aws, azure, client };
  }

  async function attempts(): Promise<Record<string, number>> {
    return Object.fromEntries((await metrics.credentialRefreshes.get()).values.map((v) => [`${v.labels["source"]} ${v.labels["outcome"]}`, v.value]));
  }

  /** Change of the emulator's per-operation counts while `work` runs. */
  async function statsDuring(work: () => Promise<void>): Promise<Record<string, number>> {
    const before = kv.stats();
    await work();
    const after = kv.stats();
    return Object.fromEntries(Object.entries(after).map(([op, n]) => [op, n - (before[op] ?? 0)] as const).filter(([, n]) => n > 0));
  }

  it("reads and writes the vault: one signed GetWebIdentityToken and one Entra exchange for many calls", async () => {
    const { client } = cell();
    const delta = await statsDuring(async () => {
      for (let i = 0; i < 5; i += 1) await client.setSecret(`gwit-${i}`, `value-${i}`);
      for (let i = 0; i < 5; i += 1) expect((await client.getSecret(`gwit-${i}`)).value).toBe(`value-${i}`);
    });
    expect(delta).toMatchObject({ EntraToken: 1, SetSecret: 5, GetSecret: 5 });
    expect(proxy.count("AssumeRoleWithWebIdentity")).toBe(1);
    expect(proxy.count("GetWebIdentityToken")).toBe(1);

    // The GetWebIdentityToken call was signed with the assumed role's credentials, and the stand-in
    // checked that signature independently of the SDK.
    const call = proxy.requests.find((r) => r.action === "GetWebIdentityToken");
    expect(call?.status).toBe(200);
    expect(call?.accessKeyId).toBeDefined();
    expect(proxy.issued.get(call?.accessKeyId ?? "")?.roleArn).toBe(ROLE_ARN);
    expect(call?.params.get("Audience.member.1")).toBe(AUDIENCE);
    expect(call?.params.get("SigningAlgorithm")).toBe("RS256");
    expect(call?.params.get("DurationSeconds")).toBe("300");
    expect(sts.refused).toEqual([]);

    // Entra (the emulator) accepted an assertion from the STS issuer naming the role.
    expect(kv.federatedExchanges().at(-1)).toMatchObject({ clientId: CLIENT, issuer: sts.issuer, subject: ROLE_ARN });
    const [minted] = sts.minted;
    expect(minted).toMatchObject({ iss: sts.issuer, sub: ROLE_ARN, aud: [AUDIENCE] });
    expect(await attempts()).toEqual({ "aws/web-identity-token-file success": 1, "azure/aws-web-identity-token success": 1 });
  });

  it("sends a token that verifies against the issuer's published keys, for the Entra audience", async () => {
    // What Entra checks, done with an independent verifier: the assertion as it left the process.
    const mint = stsWebIdentityToken({ region: REGION, endpoint: proxy.endpoint, audience: AUDIENCE, durationSeconds: 900 }, cell().aws);
    const sent = (await mint()).reveal();
    const { payload, protectedHeader } = await jwtVerify(sent, createRemoteJWKSet(new URL(sts.jwksUri)), { issuer: sts.issuer, audience: AUDIENCE, algorithms: ["RS256"] });
    expect(protectedHeader.alg).toBe("RS256");
    expect(payload.sub).toBe(ROLE_ARN);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);
    expect(Math.abs((payload.iat ?? 0) - Date.now() / 1000)).toBeLessThan(60);
    expect(payload["https://sts.amazonaws.com/"]).toEqual({ aws_account: ACCOUNT, source_region: REGION });
  });

  it("stops with a configuration error naming the source when the account has not enabled outbound federation", async () => {
    sts.enabled = false;
    const { client } = cell();
    const delta = await statsDuring(async () => {
      const error = await client.getSecret("gwit-0").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CredmeshError);
      expect(error).toMatchObject({ reason: "configuration", retryable: false, code: "OutboundWebIdentityFederationDisabledException" });
      expect((error as Error).message).toBe(
        "azure credential source aws-web-identity-token failed: sts GetWebIdentityToken failed (OutboundWebIdentityFederationDisabledException, HTTP 403)",
      );
    });
    expect(delta["EntraToken"]).toBeUndefined();
    expect(delta["GetSecret"]).toBeUndefined();
    expect(await attempts()).toMatchObject({ "azure/aws-web-identity-token configuration": 1 });
  });

  it.each([
    ["ahead of the local clock", 600, /(599|600) s in the future of the local clock/],
    ["behind the local clock although just minted", -600, /(600|601) s before the local clock although it was just issued/],
  ])("refuses an assertion issued %s before Entra sees it: ClockSkew, a metric and an event", async (_name, offset, text) => {
    sts.offsetSeconds = offset;
    const { client } = cell();
    const delta = await statsDuring(async () => {
      const error = await client.getSecret("gwit-0").catch((e: unknown) => e);
      expect(error).toMatchObject({ reason: "unauthenticated", code: "ClockSkew" });
      expect((error as Error).message).toMatch(text);
      expect((error as Error).message).toContain("STS GetWebIdentityToken");
    });
    expect(delta["EntraToken"]).toBeUndefined();
    expect(delta["EntraTokenRejected"]).toBeUndefined();
    // The clocks of the test and of the stand-in are one: the offset is the injected one, give or take the second in flight.
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ source: "azure/aws-web-identity-token", toleranceSeconds: 300 });
    expect(Math.abs((refusals[0]?.offsetSeconds ?? 0) - offset)).toBeLessThanOrEqual(1);
    expect((await metrics.identityClockSkewRefusals.get()).values).toEqual([{ labels: { source: "azure/aws-web-identity-token" }, value: 1 }]);
    const [gauge] = (await metrics.identityClockSkew.get()).values;
    expect(gauge?.labels).toEqual({ source: "azure/aws-web-identity-token" });
    expect(Math.abs((gauge?.value ?? 0) - offset)).toBeLessThanOrEqual(1);
    expect(logLines.join("")).toContain("token refused: clock skew beyond tolerance");
  });

  it("falls back from a client-assertion file that is not mounted to GetWebIdentityToken, and says which source won", async () => {
    const { client } = cell(["client-assertion", "aws-web-identity-token"]);
    await client.setSecret("fallback", "ok");
    expect(await attempts()).toMatchObject({
      "azure/client-assertion identity_unavailable": 1,
      "azure/aws-web-identity-token success": 1,
    });
    const chosen = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line["msg"] === "azure credentials from source aws-web-identity-token");
    expect(chosen).toMatchObject({ level: "info", chain: "azure", source: "aws-web-identity-token", skipped: [{ source: "client-assertion" }] });
  });

  it("does not fall back when the first source is refused by Entra: a real authentication failure stops the chain", async () => {
    const wrongSubject = join(dir, "azure-identity-token-wrong-subject");
    await issuer.writeTokenFile(wrongSubject, { namespace: "default", serviceAccount: "someone-else" });
    const { client } = cell(["client-assertion", "aws-web-identity-token"], wrongSubject);
    const error = await client.getSecret("fallback").catch((e: unknown) => e);
    // The emulator's only credential trusts the STS issuer; the file's issuer is unknown to it.
    expect(error).toMatchObject({ reason: "unauthenticated", code: "AADSTS700211" });
    expect((error as Error).message).toMatch(/^azure credential source client-assertion failed: /);
    expect(proxy.count("GetWebIdentityToken")).toBe(0);
    expect(await attempts()).toEqual({ "azure/client-assertion unauthenticated": 1 });
  });
});
