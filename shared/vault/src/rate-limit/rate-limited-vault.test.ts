import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CredmeshError, RETRY_AFTER_MAX_MS, RetryBudget, withRetry } from "@credmesh/errors";
import { createLogger, sensitive, type Sensitive } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import { MemoryVault } from "../memory-vault.ts";
import { pagedRequest } from "../paced.ts";
import type { ListOptions, ListedSecret, VaultContext, VaultPort } from "../port.ts";
import { busiestWindow } from "./busiest-window.test-support.ts";
import { RateLimitedVault, VaultRateLimits } from "./rate-limited-vault.ts";
import { RATE_LIMIT_BUCKET } from "@credmesh/metrics";
import { DEFAULT_RATE_LIMITS, type RateLimitSettings } from "./settings.ts";
import { VaultRateLimiter } from "./vault-rate-limiter.ts";

const ctx: VaultContext = { logger: createLogger({ service: "test", level: "silent" }) };

type Operation = "get" | "describe" | "put" | "delete" | "restore" | "versions" | "list";

/**
 * A MemoryVault that records when each call reached "the cloud" and fails calls as a script
 * says, the way an adapter reports a cloud's answer (a classified CredmeshError).
 */
class ScriptedVault implements VaultPort {
  readonly cloud: "aws" | "azure";
  readonly tagsPerVersion: boolean;
  readonly calls: Array<{ operation: Operation; at: number }> = [];
  readonly #memory: MemoryVault;
  failWith: (operation: Operation, call: number) => CredmeshError | undefined = () => undefined;

  constructor(cloud: "aws" | "azure") {
    this.cloud = cloud;
    this.tagsPerVersion = cloud === "azure";
    this.#memory = new MemoryVault(cloud);
  }

  #enter(operation: Operation): void {
    this.calls.push({ operation, at: Date.now() });
    const failure = this.failWith(operation, this.calls.length);
    if (failure) throw failure;
  }

  async read(name: string) {
    this.#enter("get");
    return this.#memory.read(name);
  }
  async get(name: string) {
    this.#enter("get");
    return this.#memory.get(name, ctx);
  }
  async describe(name: string) {
    this.#enter("describe");
    return this.#memory.describe(name);
  }
  async put(name: string, value: Sensitive<string>, options: { tags: Record<string, string> }) {
    this.#enter("put");
    return this.#memory.put(name, value, options);
  }
  async delete(name: string) {
    this.#enter("delete");
    return this.#memory.delete(name, { mode: "recoverable" });
  }
  async restore(name: string) {
    this.#enter("restore");
    return this.#memory.restore(name);
  }
  /** Entries of each page of a version list (an empty page may lead on, as Key Vault's do). */
  versionPages: number[] = [1];
  /** When set, the listing's pages hold these many entries instead of the stored secrets. */
  listPages: number[] | undefined;

  /** Like the Key Vault adapter: one paced request per page, then an ask of the ended SDK iterator, which sends nothing. */
  async versions(name: string, pacing: VaultContext) {
    for (const _entries of this.versionPages) await pagedRequest(pacing, "versions", async () => this.#enter("versions"));
    await this.#ended(pacing, "versions");
    return this.#memory.versions(name);
  }
  /** Like an adapter: one paced cloud call per page, made when the page's first entry is asked for. */
  async *list(pacing: VaultContext, options: ListOptions = {}): AsyncIterable<ListedSecret> {
    const stored: ListedSecret[] = [];
    for await (const secret of this.#memory.list(undefined, options)) stored.push(secret);
    const pageSize = options.pageSize ?? 25;
    const sizes = this.listPages ?? Array.from({ length: Math.max(1, Math.ceil(stored.length / pageSize)) }, (_, page) => Math.min(pageSize, stored.length - page * pageSize));
    let served = 0;
    for (const size of sizes) {
      const page = await pagedRequest(pacing, "list", async () => {
        this.#enter("list");
        return this.listPages ? Array.from({ length: size }, (_, index) => ({ name: `listed-${served + index}`, state: "active" as const, tags: {} })) : stored.slice(served, served + size);
      });
      served += size;
      yield* page;
    }
    await this.#ended(pacing, "list");
  }

  async #ended(pacing: VaultContext, operation: "list" | "versions"): Promise<void> {
    await pagedRequest(pacing, operation, async () => ({ done: true }), (next) => !next.done);
  }
}

const throttled = (retryAfterMs?: number): CredmeshError =>
  new CredmeshError("throttled", "keyvault GetSecret failed (Throttled, HTTP 429)", { code: "Throttled", status: 429, retryAfterMs });

function settings(overrides: Partial<RateLimitSettings> = {}): RateLimitSettings {
  return { ...DEFAULT_RATE_LIMITS, ...overrides };
}

function limited(cloud: "aws" | "azure", overrides: Partial<RateLimitSettings> = {}) {
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const inner = new ScriptedVault(cloud);
  const vault = new VaultRateLimits(settings(overrides), metrics).wrap(inner, cloud === "aws" ? "aws/123456789012/us-east-1" : "payments-kv.vault.azure.net");
  return { inner, vault, metrics };
}

describe("RateLimitedVault", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.UTC(2026, 10, 22, 12) });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("keeps Key Vault SetSecret calls within the creates limit of any 10 s window", async () => {
    const { inner, vault } = limited("azure", { keyVault: { operations: { limit: 3_000, windowMs: 10_000 }, creates: { limit: 20, windowMs: 10_000 } }, maxWaitMs: 60_000 });
    const started = Date.now();
    const puts = Array.from({ length: 60 }, (_, index) => vault.put(`s${index}`, sensitive("v"), { tags: {} }, ctx));
    await vi.advanceTimersByTimeAsync(60_000);
    await Promise.all(puts);
    const times = inner.calls.map((call) => call.at);
    expect(times).toHaveLength(60);
    expect(busiestWindow(times, 10_000)).toBeLessThanOrEqual(20);
    // At most 20 in any 10 s: the 60th goes out after two whole windows.
    expect(Math.max(...times) - started).toBeGreaterThanOrEqual(20_000);
  });

  it("keeps Secrets Manager writes under the write limit while reads are not limited", async () => {
    const { inner, vault } = limited("aws", { aws: { writes: { limit: 10, windowMs: 1_000 }, reads: { limit: 0, windowMs: 1_000 } } });
    const writes = Array.from({ length: 30 }, (_, index) => vault.put(`s${index}`, sensitive("v"), { tags: {} }, ctx));
    const reads = Array.from({ length: 200 }, (_, index) => vault.get(`s${index}`, ctx));
    await vi.advanceTimersByTimeAsync(0);
    expect(inner.calls.filter((call) => call.operation === "get")).toHaveLength(200);
    await vi.advanceTimersByTimeAsync(10_000);
    await Promise.all([...writes, ...reads]);
    expect(busiestWindow(inner.calls.filter((call) => call.operation === "put").map((call) => call.at), 1_000)).toBeLessThanOrEqual(10);
  });

  it("pauses every call to a Key Vault for the Retry-After of a 429", async () => {
    const { inner, vault, metrics } = limited("azure");
    inner.failWith = (_operation, call) => (call === 1 ? throttled(3_000) : undefined);
    const throttledAt = Date.now();
    await expect(vault.get("a", ctx)).rejects.toMatchObject({ reason: "throttled", retryAfterMs: 3_000 });
    const next = [vault.describe("a", ctx), vault.put("a", sensitive("v"), { tags: {} }, ctx), vault.versions("a", ctx)];
    await vi.advanceTimersByTimeAsync(2_999);
    expect(inner.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all(next);
    expect(inner.calls.slice(1).every((call) => call.at >= throttledAt + 3_000)).toBe(true);
    const pauses = await metrics.rateLimitPauses.get();
    expect(pauses.values.find((value) => value.labels.bucket === "operations")?.value).toBe(1);
    const waits = await metrics.rateLimitWaits.get();
    expect(waits.values.filter((value) => value.labels.cause === "throttled").reduce((sum, value) => sum + value.value, 0)).toBe(3);
  });

  it("on Secrets Manager, pauses the writes when a write is throttled and lets reads go on", async () => {
    const { inner, vault } = limited("aws");
    inner.failWith = (operation, call) => (operation === "put" && call === 1 ? throttled(2_000) : undefined);
    await expect(vault.put("a", sensitive("v"), { tags: {} }, ctx)).rejects.toMatchObject({ reason: "throttled" });
    const read = vault.get("a", ctx);
    const write = vault.put("a", sensitive("v2"), { tags: {} }, ctx);
    await vi.advanceTimersByTimeAsync(0);
    await read;
    expect(inner.calls.map((call) => call.operation)).toEqual(["put", "get"]);
    await vi.advanceTimersByTimeAsync(2_100);
    await write;
    expect(inner.calls.map((call) => call.operation)).toEqual(["put", "get", "put"]);
  });

  it("without Retry-After, doubles the pause per consecutive throttle up to the cap, and starts over after a success", async () => {
    const cloud = new ScriptedVault("azure");
    const limiter = new VaultRateLimiter({ cloud: "azure", vault: "kv", settings: settings({ pauseMs: 1_000, maxPauseMs: 4_000 }) });
    const vault = new RateLimitedVault(cloud, limiter);
    let failing = true;
    cloud.failWith = () => (failing ? throttled() : undefined);
    const pauses: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const before = Date.now();
      const call = vault.get("a", ctx).catch(() => undefined);
      await vi.runAllTimersAsync();
      await call;
      pauses.push(Date.now() - before);
    }
    // The first call does not wait; each later one waits out the pause the previous one caused.
    expect(pauses.map((ms) => Math.round(ms / 1_000))).toEqual([0, 1, 2, 4]);
    failing = false;
    const recovered = vault.get("a", ctx);
    await vi.runAllTimersAsync();
    await recovered;
    failing = true;
    expect(limiter.throttled("get")).toBe(1_000);
  });

  it("pauses for the whole of a server's Retry-After, beyond the cap of its own doubling pause", () => {
    const limiter = new VaultRateLimiter({ cloud: "azure", vault: "kv", settings: settings({ maxPauseMs: 16_000 }) });
    expect(limiter.throttled("get", 45_000)).toBe(45_000);
  });

  it("reads an absurd Retry-After (a broken header) as the honoured bound", () => {
    const limiter = new VaultRateLimiter({ cloud: "azure", vault: "kv", settings: settings({ maxPauseMs: 16_000 }) });
    expect(limiter.throttled("get", 86_400_000)).toBe(RETRY_AFTER_MAX_MS);
  });

  it("hands a pause longer than the longest wait back at once as throttled with the rest of the pause as Retry-After", async () => {
    const { inner, vault } = limited("azure");
    inner.failWith = (_operation, call) => (call === 1 ? throttled(45_000) : undefined);
    await expect(vault.get("a", ctx)).rejects.toMatchObject({ reason: "throttled", retryAfterMs: 45_000 });
    const error = await vault.get("a", ctx).catch((failure: unknown) => failure);
    expect(error).toMatchObject({ reason: "throttled" });
    expect((error as CredmeshError).retryAfterMs).toBeGreaterThan(44_000);
    expect(inner.calls).toHaveLength(1);
  });

  it("stops waiting as soon as the context's signal aborts, and gives the tokens back", async () => {
    const { inner, vault } = limited("azure");
    inner.failWith = (_operation, call) => (call === 1 ? throttled(5_000) : undefined);
    await expect(vault.get("a", ctx)).rejects.toMatchObject({ reason: "throttled" });
    const controller = new AbortController();
    const waiting = vault.get("a", { ...ctx, signal: controller.signal });
    const outcome = expect(waiting).rejects.toMatchObject({ reason: "timeout" });
    await vi.advanceTimersByTimeAsync(1_000);
    controller.abort(new Error("deadline"));
    await outcome;
    expect(inner.calls).toHaveLength(1);
  });

  it("fails at once as throttled, with the wait as Retry-After, when the wait would exceed the maximum", async () => {
    const { inner, vault } = limited("azure", { maxWaitMs: 2_000 });
    inner.failWith = (_operation, call) => (call === 1 ? throttled(10_000) : undefined);
    await expect(vault.get("a", ctx)).rejects.toMatchObject({ reason: "throttled" });
    const error = await vault.get("a", ctx).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(CredmeshError);
    expect(error).toMatchObject({ reason: "throttled", retryable: true });
    expect((error as CredmeshError).retryAfterMs).toBeGreaterThan(9_000);
    expect(inner.calls).toHaveLength(1);
  });

  it("leaves the vault as it is when rate limiting is off", () => {
    const inner = new MemoryVault("azure");
    expect(new VaultRateLimits({ ...DEFAULT_RATE_LIMITS, enabled: false }).wrap(inner, "kv")).toBe(inner);
  });

  it("shares one limiter between adapters of the same vault", () => {
    const limits = new VaultRateLimits(DEFAULT_RATE_LIMITS);
    expect(limits.limiter("aws", "aws/1/us-east-1")).toBe(limits.limiter("aws", "aws/1/us-east-1"));
    expect(limits.limiter("aws", "aws/1/us-east-1")).not.toBe(limits.limiter("aws", "aws/1/eu-west-1"));
  });

  it("takes a token per page of a listing, and pauses the vault when a page is throttled", async () => {
    const { inner, vault } = limited("azure", { keyVault: { operations: { limit: 20, windowMs: 10_000 }, creates: { limit: 20, windowMs: 10_000 } } });
    for (let index = 0; index < 60; index++) await inner.put(`s${index}`, sensitive("v"), { tags: {} });
    await vi.advanceTimersByTimeAsync(60_000);
    inner.calls.length = 0;
    const start = Date.now();
    const names: string[] = [];
    const listing = (async () => {
      for await (const secret of vault.list(ctx)) names.push(secret.name);
    })();
    await vi.advanceTimersByTimeAsync(10_000);
    await listing;
    expect(names).toHaveLength(60);
    // Three pages of 25: two at once (a tenth of the limit), the third at the pace of 20 per 10 s.
    expect(inner.calls.map((call) => call.at - start)).toEqual([0, 0, 500]);

    inner.failWith = (operation) => (operation === "list" ? throttled(4_000) : undefined);
    await expect((async () => {
      for await (const _secret of vault.list(ctx)) void _secret;
    })()).rejects.toMatchObject({ reason: "throttled" });
    const after = Date.now();
    const read = vault.get("s1", ctx);
    await vi.advanceTimersByTimeAsync(5_000);
    await read;
    expect((inner.calls.at(-1)?.at ?? 0) - after).toBeGreaterThanOrEqual(4_000);
  });

  it("takes exactly one token per page request of a version list and a listing, empty pages included", async () => {
    // A window far longer than the test: every token taken stays in it.
    const long = settings({ keyVault: { operations: { limit: 1_000, windowMs: 3_600_000 }, creates: { limit: 250, windowMs: 10_000 } } });
    const inner = new ScriptedVault("azure");
    const limiter = new VaultRateLimiter({ cloud: "azure", vault: "kv", settings: long });
    const vault = new RateLimitedVault(inner, limiter);
    await inner.put("a", sensitive("v"), { tags: {} });

    inner.versionPages = [0, 0, 25, 3];
    await vault.versions("a", ctx);
    expect(inner.calls.filter((call) => call.operation === "versions")).toHaveLength(4);
    expect(limiter.held(RATE_LIMIT_BUCKET.operations)).toBe(4);

    inner.listPages = [0, 25, 0, 10, 0];
    const names: string[] = [];
    for await (const secret of vault.list(ctx)) names.push(secret.name);
    expect(names).toHaveLength(35);
    expect(inner.calls.filter((call) => call.operation === "list")).toHaveLength(5);
    expect(limiter.held(RATE_LIMIT_BUCKET.operations)).toBe(4 + 5);
  });

  it("pauses the vault when a later page of a version list is throttled", async () => {
    const { inner, vault, metrics } = limited("azure");
    inner.versionPages = [0, 25];
    inner.failWith = (operation, call) => (operation === "versions" && call === 2 ? throttled(3_000) : undefined);
    await expect(vault.versions("a", ctx)).rejects.toMatchObject({ reason: "throttled" });
    const pauses = await metrics.rateLimitPauses.get();
    expect(pauses.values.find((value) => value.labels.bucket === "operations")?.value).toBe(1);
  });

  it("does not pause the vault for its own refusal to wait for a page", async () => {
    const { inner, vault, metrics } = limited("azure", { keyVault: { operations: { limit: 10, windowMs: 10_000 }, creates: { limit: 10, windowMs: 10_000 } }, maxWaitMs: 100 });
    // A burst of one, then one page a second: the second page would wait beyond the maximum.
    inner.versionPages = [0, 25];
    await expect(vault.versions("a", ctx)).rejects.toMatchObject({ reason: "throttled" });
    expect(inner.calls).toHaveLength(1);
    const pauses = await metrics.rateLimitPauses.get();
    expect(pauses.values.reduce((sum, value) => sum + value.value, 0)).toBe(0);
  });

  it("does not let a throttling cloud turn retries into a storm (limiter pause plus retry budget)", async () => {
    const { inner, vault } = limited("azure");
    inner.failWith = () => throttled();
    const budget = new RetryBudget();
    const mutations = Array.from({ length: 80 }, (_, index) =>
      withRetry(() => vault.get(`s${index}`, ctx), { maxAttempts: 3, budget, policy: { baseMs: 200, maxMs: 2_000 } }).then(
        () => "ok",
        (error: unknown) => (error as CredmeshError).reason,
      ),
    );
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(999);
    // The first wave reached the cloud; no retry did while the vault was paused.
    expect(inner.calls).toHaveLength(80);
    await vi.runAllTimersAsync();
    expect(await Promise.all(mutations)).toEqual(Array.from({ length: 80 }, () => "throttled"));
    // 80 first attempts and at most 100 retries (500 tokens at 5 each), never 80 × 3.
    expect(inner.calls.length).toBeLessThanOrEqual(180);
    const retries = inner.calls.slice(80).map((call) => call.at - start);
    // Every retry was paid for from the budget; the pauses (doubling while the cloud keeps
    // throttling) made most callers give up before spending it all.
    expect(retries.length).toBeGreaterThan(0);
    expect(budget.available).toBeLessThanOrEqual(500 - 5 * retries.length);
    // The retries went out after the first pause, never into it.
    expect(Math.min(...retries)).toBeGreaterThanOrEqual(1_000);
  });
});
