/**
 * The rate limiter pays for paged operations per HTTP request: a `RateLimitedVault` over the
 * product's adapters takes exactly as many tokens for `versions` and `list` as the requests the
 * cloud saw — against the Key Vault emulator with its default paging (the first page of every
 * listing is empty and carries a `nextLink`, as Key Vault's may), and against moto behind the
 * recording proxy for Secrets Manager listings. The clouds' own request records are the count, not
 * the adapter's word.
 */
import { readFileSync } from "node:fs";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, sensitive } from "@credmesh/logging";
import { RATE_LIMIT_BUCKET, type RateLimitBucket } from "@credmesh/metrics";
import {
  DEFAULT_RATE_LIMITS,
  KeyVaultVault,
  RateLimitedVault,
  SecretsManagerVault,
  VaultRateLimiter,
  createKeyVaultClient,
  type RateLimitSettings,
  type VaultContext,
  type VaultPort,
} from "@credmesh/vault";
import type { KeyVaultEmulator } from "../emulators/keyvault/index.ts";
import { imdsCredential } from "../emulators/keyvault/test-client.ts";
import { startKeyVault, startMoto, type MotoPart } from "../support/parts.ts";
import { startRecordingProxy, type RecordingProxy } from "../support/recording-proxy.ts";

const ctx: VaultContext = { logger: createLogger({ service: "vault-rate-limit-pages", level: "silent" }) };

/** Limits no test reaches in a window far longer than the test: every token taken stays counted. */
const HOUR = { limit: 100_000, windowMs: 3_600_000 };
const COUNTING: RateLimitSettings = { ...DEFAULT_RATE_LIMITS, aws: { writes: HOUR, reads: HOUR }, keyVault: { operations: HOUR, creates: HOUR } };

async function listAll(vault: VaultPort): Promise<string[]> {
  const names: string[] = [];
  for await (const secret of vault.list(ctx)) names.push(secret.name);
  return names;
}

/** Tokens `bucket` of `limiter` took while `work` ran. */
async function tokensOf<T>(limiter: VaultRateLimiter, bucket: RateLimitBucket, work: () => Promise<T>): Promise<{ result: T; tokens: number }> {
  const before = limiter.held(bucket);
  const result = await work();
  return { result, tokens: limiter.held(bucket) - before };
}

async function inBatches(count: number, write: (index: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += 10) {
    await Promise.all(Array.from({ length: Math.min(10, count - start) }, (_, offset) => write(start + offset)));
  }
}

describe("Key Vault: a token per page request, empty pages included", () => {
  let emulator: KeyVaultEmulator;
  let limiter: VaultRateLimiter;
  let vault: RateLimitedVault;
  const listed = 57;

  beforeAll(async () => {
    emulator = await startKeyVault();
    const client = createKeyVaultClient({
      vaultUrl: emulator.vaultUrl,
      credential: imdsCredential(emulator.tokenEndpoint, readFileSync(emulator.caCertPath)),
      caFile: emulator.caCertPath,
      disableChallengeResourceVerification: true,
    });
    limiter = new VaultRateLimiter({ cloud: "azure", vault: new URL(emulator.vaultUrl).host, settings: COUNTING });
    vault = new RateLimitedVault(new KeyVaultVault(client, { pollIntervalMs: 50 }), limiter);
    // 30 versions of one secret (two pages after the empty first), 3 of another; 57 active secrets
    // in all (four pages of up to 25, two of them empty) and 2 deleted ones.
    for (let version = 0; version < 30; version++) await vault.put("many-versions", sensitive(`v${version}`), { tags: {} }, ctx);
    for (let version = 0; version < 3; version++) await vault.put("few-versions", sensitive(`v${version}`), { tags: {} }, ctx);
    await inBatches(listed, (index) => vault.put(`listed-${index}`, sensitive("v"), { tags: {} }, ctx));
    await Promise.all([vault.delete("listed-0", { mode: "recoverable" }, ctx), vault.delete("listed-1", { mode: "recoverable" }, ctx)]);
  }, 120_000);

  afterAll(async () => {
    await emulator?.stop();
  });

  /** Vault data-plane requests the emulator served while `work` ran, by operation. */
  async function served<T>(work: () => Promise<T>): Promise<{ result: T; tokens: number; requests: Array<{ operation: string; items?: number | undefined }> }> {
    const from = emulator.requests().length;
    const { result, tokens } = await tokensOf(limiter, RATE_LIMIT_BUCKET.operations, work);
    const requests = emulator
      .requests()
      .slice(from)
      .filter((request) => request.plane === "vault")
      .map((request) => ({ operation: request.operation, items: request.page?.items }));
    return { result, tokens, requests };
  }

  it("takes as many tokens for a version list as the GetSecretVersions pages the vault served", async () => {
    const many = await served(() => vault.versions("many-versions", ctx, 5));
    expect(many.result).toHaveLength(5);
    expect(many.requests.every((request) => request.operation === "GetSecretVersions")).toBe(true);
    // The empty first page, then 25, then 5.
    expect(many.requests.map((request) => request.items)).toEqual([0, 25, 5]);
    expect(many.tokens).toBe(many.requests.length);

    const few = await served(() => vault.versions("few-versions", ctx));
    expect(few.result).toHaveLength(3);
    expect(few.requests.map((request) => request.items)).toEqual([0, 3]);
    expect(few.tokens).toBe(few.requests.length);
  });

  it("takes as many tokens for a listing as the GetSecrets and GetDeletedSecrets pages the vault served", async () => {
    const listing = await served(() => listAll(vault));
    expect(listing.result).toHaveLength(2 + listed);
    expect(new Set(listing.requests.map((request) => request.operation))).toEqual(new Set(["GetSecrets", "GetDeletedSecrets"]));
    expect(listing.requests.filter((request) => request.items === 0).length).toBeGreaterThanOrEqual(2);
    expect(listing.tokens).toBe(listing.requests.length);
  });
});

describe("Secrets Manager: a token per ListSecrets page", () => {
  let moto: MotoPart;
  let proxy: RecordingProxy;
  let limiter: VaultRateLimiter;
  let vault: RateLimitedVault;
  const secrets = 230;

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startRecordingProxy(moto.endpoint);
    const client = new SecretsManagerClient({
      region: "us-east-1",
      endpoint: proxy.endpoint,
      // moto accepts any credentials; test-only placeholders.
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
      maxAttempts: 1,
    });
    limiter = new VaultRateLimiter({ cloud: "aws", vault: "aws/123456789012/us-east-1", settings: COUNTING });
    vault = new RateLimitedVault(new SecretsManagerVault(client), limiter);
    await inBatches(secrets, (index) => vault.put(`listed-${index}`, sensitive("v"), { tags: {} }, ctx));
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([proxy?.stop(), moto?.stop()]);
  });

  it("takes as many read tokens for a listing as the ListSecrets requests moto answered", async () => {
    const before = proxy.count("secretsmanager.ListSecrets");
    const { result, tokens } = await tokensOf(limiter, RATE_LIMIT_BUCKET.reads, () => listAll(vault));
    const requests = proxy.count("secretsmanager.ListSecrets") - before;
    expect(result).toHaveLength(secrets);
    expect(requests).toBe(Math.ceil(secrets / 100));
    expect(tokens).toBe(requests);
  });

  it("takes one read token for a version list, its one DescribeSecret", async () => {
    const before = proxy.requests.length;
    const { result, tokens } = await tokensOf(limiter, RATE_LIMIT_BUCKET.reads, () => vault.versions("listed-0", ctx));
    expect(result).toHaveLength(1);
    expect(proxy.requests.slice(before).map((request) => request.action)).toEqual(["secretsmanager.DescribeSecret"]);
    expect(tokens).toBe(1);
  });
});
