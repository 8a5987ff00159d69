import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SecretClient } from "@azure/keyvault-secrets";
import { createLogger, sensitive } from "@credmesh/logging";
import { KeyVaultVault, SecretsManagerVault } from "@credmesh/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyVaultEmulator } from "../emulators/keyvault/index.ts";
import { createTlsMaterial } from "../emulators/keyvault/tls.ts";
import { startFaultProxy, type FaultKind, type FaultProxy } from "../support/fault-proxy.ts";
import { startKeyVault } from "../support/parts.ts";

/**
 * The fault proxy answers in each cloud's own wire shape, so the real SDKs and credmesh's adapters
 * classify its faults exactly as they would the cloud's: throttled (with Retry-After where sent),
 * unavailable, network. And the same seed gives the same faults.
 */
const ctx = { logger: createLogger({ service: "test", level: "silent" }) };

describe("fault proxy", () => {
  let keyVault: KeyVaultEmulator;
  let tlsDir: string;
  let tls: { cert: string; key: string; caCertPath: string };
  let bundle: string;
  /** A stand-in for moto: answers every Secrets Manager call with an empty JSON object. */
  let aws: Server;
  let awsEndpoint: string;
  const proxies: FaultProxy[] = [];

  beforeAll(async () => {
    keyVault = await startKeyVault();
    tlsDir = await mkdtemp(join(tmpdir(), "credmesh-fault-proxy-"));
    tls = await createTlsMaterial(tlsDir);
    bundle = `${readFileSync(keyVault.caCertPath, "utf8")}\n${readFileSync(tls.caCertPath, "utf8")}`;
    aws = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify({ ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:a-AbCdEf", Name: "a" }));
      });
    });
    await new Promise<void>((resolve) => aws.listen(0, "127.0.0.1", resolve));
    awsEndpoint = `http://127.0.0.1:${(aws.address() as AddressInfo).port}`;
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([keyVault?.stop(), ...proxies.map((proxy) => proxy.stop())]);
    await new Promise((resolve) => aws?.close(resolve));
    await rm(tlsDir, { recursive: true, force: true });
  });

  const only = (kind: FaultKind): Partial<Record<FaultKind, number>> => ({ throttle: 0, unavailable: 0, reset: 0, latency: 0, lost_response: 0, [kind]: 1 });

  const keyVaultThrough = async (kind: FaultKind, rate = 1, options: { attemptTimeoutMs?: number } = {}) => {
    const proxy = await startFaultProxy({
      target: keyVault.vaultUrl,
      flavor: "keyvault",
      rate,
      weights: only(kind),
      tls: { cert: tls.cert, key: tls.key, upstreamCa: readFileSync(keyVault.caCertPath, "utf8") },
    });
    proxies.push(proxy);
    const client = new SecretClient(
      proxy.endpoint,
      {
        async getToken(scopes) {
          const url = new URL(keyVault.imdsEndpoint);
          url.searchParams.set("api-version", "2018-02-01");
          url.searchParams.set("resource", String(Array.isArray(scopes) ? scopes[0] : scopes).replace(/\/\.default$/, ""));
          const body = (await (await fetch(url, { headers: { Metadata: "true" } })).json()) as { access_token: string; expires_on: string };
          return { token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000 };
        },
      },
      { disableChallengeResourceVerification: true, tlsOptions: { ca: bundle }, retryOptions: { maxRetries: 0 } },
    );
    return { proxy, vault: new KeyVaultVault(client, { pollIntervalMs: 50, ...options }) };
  };

  const awsThrough = async (kind: FaultKind) => {
    const proxy = await startFaultProxy({ target: awsEndpoint, flavor: "aws-json", rate: 1, weights: only(kind) });
    proxies.push(proxy);
    const client = new SecretsManagerClient({
      region: "us-east-1",
      endpoint: proxy.endpoint,
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
      maxAttempts: 1,
    });
    return { proxy, vault: new SecretsManagerVault(client) };
  };

  it("Key Vault: a 429 Throttled with Retry-After, classified throttled with the wait", async () => {
    const { proxy, vault } = await keyVaultThrough("throttle");
    await expect(vault.put("fp-throttle", sensitive("v"), { tags: {} }, ctx)).rejects.toMatchObject({
      reason: "throttled",
      retryable: true,
      code: "Throttled",
      status: 429,
      retryAfterMs: 1_000,
    });
    expect(proxy.injected.throttle).toBeGreaterThan(0);
  });

  it("Key Vault: a 503 is a retryable outage", async () => {
    const { vault } = await keyVaultThrough("unavailable");
    await expect(vault.get("fp-503", ctx)).rejects.toMatchObject({ reason: "unavailable", retryable: true, status: 503 });
  });

  it("Key Vault: a reset mid-request is a retryable network failure and nothing reaches the vault", async () => {
    const { proxy, vault } = await keyVaultThrough("reset");
    const before = keyVault.stats().SetSecret ?? 0;
    await expect(vault.put("fp-reset", sensitive("v"), { tags: {} }, ctx)).rejects.toMatchObject({ reason: "network", retryable: true });
    expect(keyVault.stats().SetSecret ?? 0).toBe(before);
    expect(proxy.injected.reset).toBeGreaterThan(0);
  });

  it("Key Vault: a lost response looks like a reset, but the write happened", async () => {
    // The authentication challenge goes through cleanly; only the write loses its answer.
    const lost = await keyVaultThrough("lost_response", 0);
    await lost.vault.get("fp-lost", ctx);
    lost.proxy.setRate(1);
    const before = keyVault.stats().SetSecret ?? 0;
    await expect(lost.vault.put("fp-lost", sensitive("v"), { tags: {} }, ctx)).rejects.toMatchObject({ reason: "network", retryable: true });
    expect((keyVault.stats().SetSecret ?? 0) - before).toBe(1);
  });

  it("Key Vault: latency only slows requests down, and ids point at the proxy", async () => {
    const { proxy, vault } = await keyVaultThrough("latency");
    const started = Date.now();
    const written = await vault.put("fp-latency", sensitive("v"), { tags: {} }, ctx);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect((await vault.get("fp-latency", ctx))?.versionId).toBe(written.versionId);
    expect(proxy.injected.latency).toBeGreaterThanOrEqual(2);
  });

  it("Secrets Manager: ThrottlingException (HTTP 400, JSON 1.1) is throttled", async () => {
    const { vault } = await awsThrough("throttle");
    await expect(vault.describe("a", ctx)).rejects.toMatchObject({ reason: "throttled", retryable: true, code: "ThrottlingException", status: 400 });
  });

  it("Secrets Manager: 503 ServiceUnavailable is a retryable outage", async () => {
    const { vault } = await awsThrough("unavailable");
    await expect(vault.describe("a", ctx)).rejects.toMatchObject({ reason: "unavailable", retryable: true, status: 503 });
  });

  it("Secrets Manager: a reset is a retryable network failure", async () => {
    const { vault } = await awsThrough("reset");
    await expect(vault.describe("a", ctx)).rejects.toMatchObject({ reason: "network", retryable: true });
  });

  it("injects about the configured share, and the same seed gives the same faults", async () => {
    const run = async () => {
      const proxy = await startFaultProxy({ target: awsEndpoint, flavor: "aws-json", seed: 42 });
      proxies.push(proxy);
      const client = new SecretsManagerClient({ region: "us-east-1", endpoint: proxy.endpoint, credentials: { accessKeyId: "t", secretAccessKey: "t" }, maxAttempts: 1 });
      const vault = new SecretsManagerVault(client);
      for (let call = 0; call < 200; call++) await vault.describe("a", ctx).catch(() => undefined);
      client.destroy();
      return proxy.log.map((entry) => entry.fault);
    };
    const [first, second] = [await run(), await run()];
    expect(first).toEqual(second);
    const faults = first.filter((fault) => fault !== "none").length;
    expect(faults).toBeGreaterThan(20);
    expect(faults).toBeLessThan(60);
    expect(new Set(first)).toEqual(new Set(["none", "throttle", "unavailable", "reset", "latency"]));
  }, 60_000);

  it("hangs the requests it is told to: the adapter's per-attempt timeout fails them as a retryable timeout, attributed to the hang", async () => {
    const proxy = await startFaultProxy({ target: awsEndpoint, flavor: "aws-json", rate: 0 });
    proxies.push(proxy);
    const client = new SecretsManagerClient({ region: "us-east-1", endpoint: proxy.endpoint, credentials: { accessKeyId: "t", secretAccessKey: "t" }, maxAttempts: 1 });
    const vault = new SecretsManagerVault(client, undefined, { attemptTimeoutMs: 300 });
    proxy.hangWhen((request) => request.secret === "hung");
    await expect(vault.describe("hung", ctx)).rejects.toMatchObject({ reason: "timeout", retryable: true });
    await expect(vault.describe("other", ctx)).resolves.toMatchObject({ state: "active" });
    // The client gave up; the proxy saw it close the connection and counts the hang as the cause.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(proxy.log.map(({ secret, fault, outcome }) => ({ secret, fault, outcome }))).toEqual([
      { secret: "hung", fault: "hang", outcome: "injected" },
      { secret: "other", fault: "none", outcome: "ok" },
    ]);
    expect(proxy.failures()).toBe(1);
    expect(proxy.unattributed()).toEqual({ upstreamErrors: 0, clientClosed: 0 });
    client.destroy();
  });

  it("gives up on a Key Vault listing page that never answers (a page after the first) as a retryable timeout", async () => {
    const { proxy, vault } = await keyVaultThrough("latency", 0, { attemptTimeoutMs: 300 });
    await vault.put("fp-pages", sensitive("v"), { tags: {} }, ctx);
    // The emulator serves every listing's first page empty with a nextLink, as Key Vault may: the
    // second request carries the skip token, and the SDK sends it without the listing's signal.
    proxy.hangWhen((request) => request.path.includes("/secrets/fp-pages/versions") && request.path.includes("skiptoken"));
    await expect(vault.versions("fp-pages", ctx)).rejects.toMatchObject({ reason: "timeout", retryable: true });
    expect(proxy.log.filter((entry) => entry.fault === "hang")).toHaveLength(1);
  });

  it("makes no further request once the caller aborted the operation (its deadline)", async () => {
    const proxy = await startFaultProxy({ target: awsEndpoint, flavor: "aws-json", rate: 0 });
    proxies.push(proxy);
    const client = new SecretsManagerClient({ region: "us-east-1", endpoint: proxy.endpoint, credentials: { accessKeyId: "t", secretAccessKey: "t" }, maxAttempts: 1 });
    const vault = new SecretsManagerVault(client);
    proxy.hangWhen(() => true);
    const deadline = new AbortController();
    const call = vault.describe("slow", { ...ctx, signal: deadline.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    deadline.abort(new Error("deadline"));
    await expect(call).rejects.toMatchObject({ reason: "timeout" });
    // Aborted calls make no further request.
    await expect(vault.describe("after", { ...ctx, signal: deadline.signal })).rejects.toMatchObject({ reason: "timeout" });
    expect(proxy.log).toHaveLength(1);
    client.destroy();
  });
});
