/**
 * The AWS credential chain of a cell against the real parts: moto's STS (behind the recording
 * proxy, which counts calls and can make credentials expire) and the Key Vault emulator's
 * managed-identity endpoint. moto does not validate web identity tokens, so the tests check what
 * was sent: the token in the recorded STS request, verified against the issuer's published keys.
 */
import { get } from "node:https";
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { ListSecretsCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CredmeshError } from "@credmesh/errors";
import {
  CredentialChain,
  ManagedIdentityTokenSource,
  chainedAwsCredentials,
  tokenFromFile,
  unconfiguredSource,
  webIdentityFetcher,
  type AwsCredentials,
  type ChainSource,
} from "@credmesh/identity";
import { createLogger, type Sensitive } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startKeyVaultEmulator, type KeyVaultEmulator } from "../emulators/keyvault/index.ts";
import { startMoto, type MotoPart } from "../support/parts.ts";
import { startRecordingProxy, type RecordingProxy } from "../support/recording-proxy.ts";
import { startServiceAccountIssuer, type ServiceAccountIssuer } from "../support/service-account-issuer.ts";

const ROLE_ARN = "arn:aws:iam::123456789012:role/credmesh-replicator";
const SESSION = "credmesh-chain-1";
const EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

/** GET a JSON document over TLS, trusting `ca` (the emulator's own CA; verification stays on). */
function getJson<T>(url: string, ca: string): Promise<T> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (response) => {
      const parts: Buffer[] = [];
      response.on("data", (chunk: Buffer) => parts.push(chunk));
      response.on("end", () => resolve(JSON.parse(Buffer.concat(parts).toString("utf8")) as T));
    }).on("error", reject);
  });
}

describe("the AWS credential chain against moto STS and the managed-identity endpoint", () => {
  let moto: MotoPart;
  let proxy: RecordingProxy;
  let kv: KeyVaultEmulator;
  let issuer: ServiceAccountIssuer;
  let dir: string;
  let metrics: ReturnType<typeof createMetrics>;
  let logLines: Record<string, unknown>[];

  beforeAll(async () => {
    [moto, kv, issuer] = await Promise.all([startMoto(), startKeyVaultEmulator(), startServiceAccountIssuer()]);
    proxy = await startRecordingProxy(moto.endpoint);
    dir = await mkdtemp(join(tmpdir(), "credmesh-chain-"));
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled([proxy?.stop(), moto?.stop(), kv?.stop(), issuer?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    proxy.requests.length = 0;
    proxy.limitCredentialLifetime(undefined);
    metrics = createMetrics(new Registry(), { defaultMetrics: false });
    logLines = [];
  });

  type Entry = "web-identity-token-file" | "azure-managed-identity" | { unconfigured: "web-identity-token-file" };

  /** A chain as the replicator builds it for `CREDMESH_AWS_IDENTITY=<entries>`. */
  function chain(entries: Entry[], options: { tokenFile?: string; imdsEndpoint?: string } = {}) {
    const logger = createLogger({
      service: "chain-test",
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
          done();
        },
      }),
    });
    const imds = new ManagedIdentityTokenSource({ endpoint: options.imdsEndpoint ?? kv.imdsEndpoint, timeoutMs: 1_000 });
    const assume = (token: () => Promise<Sensitive<string>>) =>
      webIdentityFetcher({ roleArn: ROLE_ARN, sessionName: SESSION, durationSeconds: 900, region: "us-east-1", endpoint: proxy.endpoint }, token);
    const sources = entries.map((entry): ChainSource<void, AwsCredentials> => {
      if (typeof entry === "object") return unconfiguredSource(entry.unconfigured, ["CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE"]);
      if (entry === "web-identity-token-file") return { name: entry, fetch: assume(tokenFromFile(options.tokenFile ?? join(dir, "absent"))) };
      return { name: entry, fetch: assume(async () => (await imds.getToken(EXCHANGE_AUDIENCE)).token) };
    });
    return chainedAwsCredentials(new CredentialChain(sources, { name: "aws", metrics, logger }));
  }

  const sentTokens = (): string[] =>
    proxy.requests.filter((r) => r.action === "AssumeRoleWithWebIdentity").map((r) => r.params.get("WebIdentityToken") ?? "");

  async function attempts(): Promise<Record<string, number>> {
    return Object.fromEntries((await metrics.credentialRefreshes.get()).values.map((v) => [`${v.labels["source"]} ${v.labels["outcome"]}`, v.value]));
  }

  it("falls back from an unmounted token file to the managed identity, whose token STS receives", async () => {
    const credentials = chain(["web-identity-token-file", "azure-managed-identity"]);
    await Promise.all(Array.from({ length: 200 }, () => credentials()));
    expect(proxy.count("AssumeRoleWithWebIdentity")).toBe(1);
    expect(await attempts()).toEqual({
      "aws/web-identity-token-file identity_unavailable": 1,
      "aws/azure-managed-identity success": 1,
    });
    const chosen = logLines.find((line) => line["msg"] === "aws credentials from source azure-managed-identity");
    expect(chosen).toMatchObject({ level: "info", chain: "aws", skipped: [{ source: "web-identity-token-file", code: "ENOENT" }] });

    // What STS would verify: the managed identity's JWT, found through the issuer's discovery document.
    const ca = readFileSync(kv.caCertPath, "utf8");
    const discovery = await getJson<{ issuer: string; jwks_uri: string }>(kv.openIdConfigurationUri, ca);
    const keys = createLocalJWKSet(await getJson<JSONWebKeySet>(discovery.jwks_uri, ca));
    const [sent] = sentTokens();
    const { payload } = await jwtVerify(sent ?? "", keys, { issuer: discovery.issuer, audience: EXCHANGE_AUDIENCE, algorithms: ["RS256"] });
    expect(payload.sub).toBe(kv.managedIdentity.objectId);
    expect(proxy.requests[0]?.params.get("RoleSessionName")).toBe(SESSION);
  });

  it("prefers the token file when it is mounted, without asking the managed identity", async () => {
    const tokenFile = join(dir, "irsa-token");
    const written = await issuer.writeTokenFile(tokenFile, { audience: "sts.amazonaws.com" });
    const before = kv.stats()["GetToken"] ?? 0;
    await chain(["web-identity-token-file", "azure-managed-identity"], { tokenFile })();
    expect(sentTokens()).toEqual([written]);
    expect(kv.stats()["GetToken"] ?? 0).toBe(before);
    expect(await attempts()).toEqual({ "aws/web-identity-token-file success": 1 });
  });

  it("skips a source that is not configured in this deployment", async () => {
    await chain([{ unconfigured: "web-identity-token-file" }, "azure-managed-identity"])();
    expect(await attempts()).toEqual({
      "aws/web-identity-token-file identity_unavailable": 1,
      "aws/azure-managed-identity success": 1,
    });
  });

  it("fails as retryable identity_unavailable, without calling STS, when no source is available", async () => {
    const error = await chain(["web-identity-token-file", "azure-managed-identity"], { imdsEndpoint: "http://127.0.0.1:9/metadata/identity/oauth2/token" })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredmeshError);
    expect(error).toMatchObject({ reason: "identity_unavailable", retryable: true, code: "NoSourceAvailable" });
    expect((error as Error).message).toContain("web-identity-token-file: token file");
    expect((error as Error).message).toContain("azure-managed-identity: managed identity endpoint unreachable");
    expect(proxy.requests).toEqual([]);
  });

  it("refreshes short-lived credentials before they expire: no request is ever refused as expired", async () => {
    // STS as if the session lasted 3 s; the proxy refuses anything signed with expired keys.
    proxy.limitCredentialLifetime(3);
    const credentials = chain(["azure-managed-identity"]);
    const client = new SecretsManagerClient({ region: "us-east-1", endpoint: proxy.endpoint, credentials, maxAttempts: 1 });
    const started = Date.now();
    let calls = 0;
    while (Date.now() - started < 8_000) {
      await client.send(new ListSecretsCommand({}));
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    client.destroy();
    const assumed = proxy.count("AssumeRoleWithWebIdentity");
    // 8 s of 3 s credentials renewed at 80 % of their lifetime: 4 sessions, one more on a slow machine.
    expect(assumed).toBeGreaterThanOrEqual(3);
    expect(assumed).toBeLessThanOrEqual(5);
    expect(proxy.expiredRefusals()).toBe(0);
    expect(proxy.requests.filter((r) => r.action.endsWith("ListSecrets")).every((r) => r.status === 200)).toBe(true);
    expect(calls).toBeGreaterThan(50);
    // Each refresh used new keys, and each was in use before it was replaced.
    const keys = new Set(proxy.requests.filter((r) => r.action.endsWith("ListSecrets")).map((r) => r.accessKeyId));
    expect(keys.size).toBe(assumed);
  });

  it("would have been refused without the refresh: the proxy enforces the lifetime it hands out", async () => {
    proxy.limitCredentialLifetime(1);
    const response = await fetch(`${proxy.endpoint}/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ Action: "AssumeRoleWithWebIdentity", Version: "2011-06-15", RoleArn: ROLE_ARN, RoleSessionName: "s", WebIdentityToken: "t" }),
    });
    const xml = await response.text();
    const accessKeyId = /<AccessKeyId>([^<]+)</.exec(xml)?.[1] ?? "";
    const expiration = Date.parse(/<Expiration>([^<]+)</.exec(xml)?.[1] ?? "");
    expect(expiration - Date.now()).toBeLessThanOrEqual(1_000);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const stale = new SecretsManagerClient({
      region: "us-east-1",
      endpoint: proxy.endpoint,
      credentials: { ...proxy.issued.get(accessKeyId)!, expiration: new Date(expiration) },
      maxAttempts: 1,
    });
    await expect(stale.send(new ListSecretsCommand({}))).rejects.toMatchObject({ name: "ExpiredTokenException" });
    stale.destroy();
    expect(proxy.expiredRefusals()).toBe(1);
  });
});
