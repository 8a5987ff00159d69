/**
 * AWS → Azure without a stored secret (SPEC §3): the replicator-aws cell reads Key Vault with an
 * Entra access token obtained by a federated client assertion — its projected service-account
 * token — through @azure/identity's ClientAssertionCredential and MSAL, against the Key Vault
 * emulator's Entra token endpoint, which checks the assertion as Entra does.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { SecretClient } from "@azure/keyvault-secrets";
import { CredmeshError } from "@credmesh/errors";
import { clientAssertionCredential, type ClientAssertionConfig } from "@credmesh/identity";
import { createLogger } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import { SignJWT, decodeJwt, generateKeyPair } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startKeyVaultEmulator, type KeyVaultEmulator } from "../emulators/keyvault/index.ts";
import { ManagedProcess } from "../support/managed-process.ts";
import { AZURE_TOKEN_EXCHANGE_AUDIENCE, startServiceAccountIssuer, type ServiceAccountIssuer } from "../support/service-account-issuer.ts";

const CLIENT = "0c1e7a55-0000-4000-8000-0000000000aa";
const NAMESPACE = "credmesh";
const SERVICE_ACCOUNT = "replicator-aws";
const SCOPE = "https://vault.azure.net/.default";
/** Operations that reach the vault with a token; none may happen when the credential fails. */
const VAULT_OPERATIONS = ["GetSecret", "SetSecret", "BearerRejected"];

describe("Key Vault through a federated client assertion from a projected token file", () => {
  let issuer: ServiceAccountIssuer;
  let kv: KeyVaultEmulator;
  let ca: string;
  let dir: string;
  let tokenFile: string;
  let metrics: ReturnType<typeof createMetrics>;
  let logLines: string[];

  beforeAll(async () => {
    issuer = await startServiceAccountIssuer();
    kv = await startKeyVaultEmulator({
      federatedCredentials: [
        { clientId: CLIENT, issuer: issuer.issuer, subject: issuer.subjectOf(NAMESPACE, SERVICE_ACCOUNT), jwksUri: issuer.jwksUri },
      ],
    });
    ca = readFileSync(kv.caCertPath, "utf8");
    dir = await mkdtemp(join(tmpdir(), "credmesh-identity-"));
  });
  afterAll(async () => {
    await Promise.allSettled([kv?.stop(), issuer?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    tokenFile = join(dir, `azure-identity-token-${Math.random().toString(36).slice(2)}`);
    metrics = createMetrics(new Registry(), { defaultMetrics: false });
    logLines = [];
    await issuer.writeTokenFile(tokenFile, { namespace: NAMESPACE, serviceAccount: SERVICE_ACCOUNT });
  });

  function credential(config: Partial<ClientAssertionConfig> = {}) {
    const logger = createLogger({
      service: "replicator-aws",
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(chunk.toString("utf8"));
          done();
        },
      }),
    });
    return clientAssertionCredential(
      { tenantId: kv.tenantId, clientId: CLIENT, tokenFile, authorityHost: kv.authorityHost, caFile: kv.caCertPath, maxRetries: 0, ...config },
      { metrics, logger },
    );
  }

  function secretClient(cred: ReturnType<typeof credential>): SecretClient {
    return new SecretClient(kv.vaultUrl, cred, {
      tlsOptions: { ca },
      // The SDK accepts challenges only from *.vault.azure.net hosts; the emulator is 127.0.0.1.
      disableChallengeResourceVerification: true,
      retryOptions: { maxRetries: 0 },
    });
  }

  async function refreshes(outcome: string): Promise<number> {
    const metric = await metrics.credentialRefreshes.get();
    return metric.values.find((v) => v.labels["source"] === "azure-client-assertion" && v.labels["outcome"] === outcome)?.value ?? 0;
  }

  /** Change of the emulator's per-operation counts while `work` runs. */
  async function statsDuring(work: () => Promise<void>): Promise<Record<string, number>> {
    const before = kv.stats();
    await work();
    const after = kv.stats();
    return Object.fromEntries(
      Object.entries(after)
        .map(([op, n]) => [op, n - (before[op] ?? 0)] as const)
        .filter(([, n]) => n > 0),
    );
  }

  const jtiOf = (token: string): unknown => decodeJwt(token).jti;
  const currentToken = (): string => readFileSync(tokenFile, "utf8");

  it("reads and writes the vault with the real SecretClient, one Entra exchange for many calls", async () => {
    const cred = credential();
    const client = secretClient(cred);
    const token = currentToken();
    const delta = await statsDuring(async () => {
      for (let i = 0; i < 5; i += 1) await client.setSecret(`fic-${i}`, `value-${i}`);
      for (let i = 0; i < 5; i += 1) expect((await client.getSecret(`fic-${i}`)).value).toBe(`value-${i}`);
    });

    expect(delta).toMatchObject({ EntraToken: 1, SetSecret: 5, GetSecret: 5 });
    expect(delta["EntraTokenRejected"]).toBeUndefined();
    // MSAL found the token endpoint through the emulator's discovery document, not login.microsoftonline.com.
    expect(delta["OpenIdConfiguration"]).toBeGreaterThanOrEqual(1);
    expect(kv.federatedExchanges().at(-1)).toMatchObject({
      clientId: CLIENT,
      issuer: issuer.issuer,
      subject: `system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}`,
      jti: jtiOf(token),
    });
    expect(cred.tokenFile.reads()).toBe(1);
    expect(await refreshes("success")).toBe(1);
    const expiry = (await metrics.credentialExpiry.get()).values[0];
    expect(expiry?.labels).toEqual({ source: "azure-client-assertion" });
    expect(expiry?.value).toBeGreaterThan(Date.now() / 1000 + 3000);
    expect(logLines.join("")).toContain("obtained Entra access token with a federated client assertion");
    expect(logLines.join("")).not.toContain(token.split(".")[2]);
  });

  it("uses the rotated token for the next exchange, and reads an unchanged file once", async () => {
    // Refresh on every request, and a short-lived emulator token that MSAL will not serve from its
    // own cache (it renews tokens with under five minutes left), so each request is an exchange.
    const shortLived = await startKeyVaultEmulator({
      tokenLifetimeSeconds: 120,
      federatedCredentials: kv.federatedCredentials(),
    });
    try {
      const cred = clientAssertionCredential(
        { tenantId: shortLived.tenantId, clientId: CLIENT, tokenFile, authorityHost: shortLived.authorityHost, caFile: shortLived.caCertPath, maxRetries: 0, refresh: { marginMs: 3_600_000, marginFraction: 1 } },
        { metrics },
      );
      const first = currentToken();
      await cred.getToken(SCOPE);
      await cred.getToken(SCOPE);
      expect(shortLived.federatedExchanges().map((e) => e.jti)).toEqual([jtiOf(first), jtiOf(first)]);
      expect(cred.tokenFile.reads()).toBe(1);

      const second = await issuer.writeTokenFile(tokenFile, { namespace: NAMESPACE, serviceAccount: SERVICE_ACCOUNT });
      await cred.getToken(SCOPE);
      expect(shortLived.federatedExchanges().map((e) => e.jti)).toEqual([jtiOf(first), jtiOf(first), jtiOf(second)]);
      expect(cred.tokenFile.reads()).toBe(2);

      // And the vault takes the token obtained with the rotated assertion.
      const client = new SecretClient(shortLived.vaultUrl, cred, {
        tlsOptions: { ca: readFileSync(shortLived.caCertPath, "utf8") },
        disableChallengeResourceVerification: true,
        retryOptions: { maxRetries: 0 },
      });
      await client.setSecret("rotated", "ok");
      expect((await client.getSecret("rotated")).value).toBe("ok");
    } finally {
      await shortLived.stop();
    }
  });

  it("recovers without a restart when a bad token file is replaced by a good one", async () => {
    await issuer.writeTokenFile(tokenFile, { namespace: NAMESPACE, serviceAccount: "not-federated" });
    const cred = credential();
    const client = secretClient(cred);
    await expect(client.getSecret("fic-0")).rejects.toBeInstanceOf(CredmeshError);
    await issuer.writeTokenFile(tokenFile, { namespace: NAMESPACE, serviceAccount: SERVICE_ACCOUNT });
    expect((await client.getSecret("fic-0")).value).toBe("value-0");
    expect(await refreshes("unauthenticated")).toBe(1);
    expect(await refreshes("success")).toBe(1);
  });

  it.each([
    ["an authority that does not answer", () => ({ authorityHost: "https://127.0.0.1:9" })],
    ["an authority whose CA is not trusted", () => ({ caFile: undefined })],
  ] as const)("reports %s as identity_unavailable (retryable), with a hint", async (_name, config) => {
    const error = await credential(config()).getToken(SCOPE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredmeshError);
    expect((error as CredmeshError).reason).toBe("identity_unavailable");
    expect((error as CredmeshError).retryable).toBe(true);
    expect((error as CredmeshError).message).toContain("check authorityHost, caFile");
    expect(await refreshes("identity_unavailable")).toBe(1);
  });

  /** A token claiming the trusted issuer, signed with a key the issuer never published. */
  async function forged(): Promise<string> {
    const { privateKey } = await generateKeyPair("RS256");
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: "RS256", kid: decodeHeaderKid(currentToken()) })
      .setIssuer(issuer.issuer)
      .setSubject(issuer.subjectOf(NAMESPACE, SERVICE_ACCOUNT))
      .setAudience(AZURE_TOKEN_EXCHANGE_AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
  }

  const cases: { name: string; code: string; asksEntra: boolean; write: () => Promise<unknown> }[] = [
    {
      name: "an untrusted issuer",
      code: "AADSTS700211",
      asksEntra: true,
      write: async () => {
        const stranger = await startServiceAccountIssuer();
        try {
          await stranger.writeTokenFile(tokenFile, { namespace: NAMESPACE, serviceAccount: SERVICE_ACCOUNT });
        } finally {
          await stranger.stop();
        }
      },
    },
    { name: "a forged signature", code: "AADSTS700027", asksEntra: true, write: async () => writeRaw(await forged()) },
    {
      name: "the wrong subject",
      code: "AADSTS700213",
      asksEntra: true,
      write: () => issuer.writeTokenFile(tokenFile, { namespace: "default", serviceAccount: SERVICE_ACCOUNT }),
    },
    {
      name: "the wrong audience",
      code: "AADSTS700212",
      asksEntra: true,
      write: () => issuer.writeTokenFile(tokenFile, { namespace: NAMESPACE, serviceAccount: SERVICE_ACCOUNT, audience: "sts.amazonaws.com" }),
    },
    {
      name: "an expired token",
      code: "AssertionExpired",
      asksEntra: false,
      write: () => issuer.writeTokenFile(tokenFile, { namespace: NAMESPACE, serviceAccount: SERVICE_ACCOUNT, lifetimeSeconds: 3600, offsetSeconds: -3600 - 900 }),
    },
    {
      name: "a token not valid yet",
      code: "AADSTS700024",
      asksEntra: true,
      write: () => issuer.writeTokenFile(tokenFile, { namespace: NAMESPACE, serviceAccount: SERVICE_ACCOUNT, offsetSeconds: 900 }),
    },
  ];

  async function writeRaw(token: string): Promise<void> {
    await writeFile(`${tokenFile}.tmp`, token);
    await rename(`${tokenFile}.tmp`, tokenFile);
  }

  it.each(cases)("refuses $name: permanent unauthenticated, secret-free, and the vault never sees a token", async ({ code, asksEntra, write }) => {
    await write();
    const token = currentToken();
    const cred = credential();
    const client = secretClient(cred);
    let direct: unknown;
    let viaClient: unknown;
    const delta = await statsDuring(async () => {
      direct = await cred.getToken(SCOPE).catch((error: unknown) => error);
      viaClient = await client.getSecret("fic-0").catch((error: unknown) => error);
    });

    for (const error of [direct, viaClient]) {
      expect(error).toBeInstanceOf(CredmeshError);
      const e = error as CredmeshError;
      expect(e.reason).toBe("unauthenticated");
      expect(e.retryable).toBe(false);
      expect(e.code).toBe(code);
      const shown = `${e.message} ${JSON.stringify(e.toRecord())} ${e.cause instanceof Error ? e.cause.toString() : String(e.cause)} ${e.stack ?? ""}`;
      expect(shown).not.toContain(token);
      expect(shown).not.toContain(token.split(".")[2]);
      expect(shown).not.toContain(token.split(".")[1]);
    }
    for (const op of VAULT_OPERATIONS) expect(delta[op]).toBeUndefined();
    // The only vault request is the SDK's token-less challenge probe.
    expect(delta["Unauthorized"]).toBe(1);
    expect(delta["EntraToken"]).toBeUndefined();
    expect(delta["EntraTokenRejected"] ?? 0).toBe(asksEntra ? 2 : 0);
    expect(await refreshes("unauthenticated")).toBe(2);
    expect(await refreshes("success")).toBe(0);
    expect(logLines.join("")).not.toContain(token.split(".")[2]);
  });
});

function decodeHeaderKid(token: string): string {
  const header = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString("utf8")) as { kid?: string };
  return header.kid ?? "";
}

describe("the local mesh's identity parts, as processes (credmesh up)", () => {
  it("wires the issuer CLI's token file and federated credential into the emulator CLI", async () => {
    const dir = await mkdtemp(join(tmpdir(), "credmesh-up-identity-"));
    const tokenFile = join(dir, "azure-identity-token");
    const issuerProcess = new ManagedProcess("sa-issuer", process.execPath, [
      join(import.meta.dirname, "../support/service-account-issuer-main.ts"),
      "--token-file", tokenFile, "--namespace", NAMESPACE, "--service-account", SERVICE_ACCOUNT,
    ]);
    let kvProcess: ManagedProcess | undefined;
    try {
      const issued = JSON.parse(await issuerProcess.waitForLine(/^\{/)) as {
        subject: string;
        tokenFile: string;
        federatedCredential: Record<string, string>;
      };
      expect(issued.subject).toBe(`system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}`);
      expect(issued.tokenFile).toBe(tokenFile);
      kvProcess = new ManagedProcess("kv-emulator", process.execPath, [
        join(import.meta.dirname, "../emulators/keyvault/main.ts"),
        "--dir", join(dir, "kv"),
        "--federated-credential", JSON.stringify({ clientId: CLIENT, ...issued.federatedCredential }),
      ]);
      const emulator = JSON.parse(await kvProcess.waitForLine(/^\{/)) as {
        vaultUrl: string;
        caCertPath: string;
        tenantId: string;
        authorityHost: string;
      };
      const cred = clientAssertionCredential({
        tenantId: emulator.tenantId,
        clientId: CLIENT,
        tokenFile,
        authorityHost: emulator.authorityHost,
        caFile: emulator.caCertPath,
        maxRetries: 0,
      });
      const client = new SecretClient(emulator.vaultUrl, cred, {
        tlsOptions: { ca: readFileSync(emulator.caCertPath, "utf8") },
        disableChallengeResourceVerification: true,
        retryOptions: { maxRetries: 0 },
      });
      await client.setSecret("up", "federated");
      expect((await client.getSecret("up")).value).toBe("federated");
    } finally {
      await Promise.allSettled([kvProcess?.stop(), issuerProcess.stop()]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
