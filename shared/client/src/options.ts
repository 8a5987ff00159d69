import { loadRules, type RuleSet } from "@credmesh/config";
import { CredmeshError, RetryBudget } from "@credmesh/errors";
import type { Registry } from "@credmesh/metrics";
import type { KeyVaultProviderOptions } from "./azure-provider.ts";
import type { SecretsManagerProviderOptions } from "./aws-provider.ts";
import type { GuardSettings } from "./backend-guard.ts";
import type { ClientEvent, ClientLogger } from "./events.ts";
import type { FreshnessSettings } from "./freshness.ts";
import type { SecretProvider } from "./provider.ts";

/** An AWS Secrets Manager store (one account and region). */
export type AwsBackendOptions = { cloud: "aws" } & SecretsManagerProviderOptions;

/** An Azure Key Vault. `vaultName` defaults to the first label of the URL's host. */
export type AzureBackendOptions = { cloud: "azure"; vaultName?: string | undefined } & KeyVaultProviderOptions;

export type BackendOptions = AwsBackendOptions | AzureBackendOptions;

/** Everything a {@link FailoverClient} can be told; only `primary` is required. */
export interface FailoverClientOptions {
  /** The store read first (usually the one in the cloud the workload runs in). */
  primary: BackendOptions;
  /** The store in the other cloud, read when the primary is unavailable. */
  fallback?: BackendOptions | undefined;
  /** The replication rules credmesh runs with (parsed, or the file's path); required with a fallback. */
  rules?: RuleSet | string | undefined;
  /** Longest a `get` may take, all attempts and the failover included (default 5 s). */
  deadlineMs?: number | undefined;
  /** Per-attempt timeout of one cloud call (default 2 s). */
  attemptTimeoutMs?: number | undefined;
  /** The cache, or `false` for none (every read asks a cloud; concurrent reads still share one call). */
  cache?: CacheOptions | false | undefined;
  breaker?: BreakerOptions | undefined;
  /** Calls in flight per backend (default 32) and waiting for a slot (default 256). */
  bulkhead?: { maxConcurrent?: number | undefined; maxQueued?: number | undefined } | undefined;
  /** Throttled calls: attempts (default 3) and backoff (100 ms doubling, at most 2 s, or the cloud's Retry-After). */
  throttle?: { attempts?: number | undefined; baseMs?: number | undefined; maxMs?: number | undefined } | undefined;
  /** Register the client's metrics (prom-client) in this registry. */
  metrics?: { registry: Registry } | undefined;
  /** The application's logger (pino-compatible). */
  logger?: ClientLogger | undefined;
  /** Called for every {@link ClientEvent}, after the logger. */
  onEvent?: ((event: ClientEvent) => void) | undefined;
  /** Adapters to use instead of building them from `primary`/`fallback` (tests, other stores). */
  providers?: { primary?: SecretProvider | undefined; fallback?: SecretProvider | undefined } | undefined;
  /** Clock, for tests. */
  now?: (() => number) | undefined;
}

export interface CacheOptions {
  /** How long a value is served without asking a cloud (default 5 min). */
  ttlMs?: number | undefined;
  /** Fraction of the TTL after which a read starts a background version check (default 0.8). */
  refreshAhead?: number | undefined;
  /** How long past its TTL a value may be served while every backend is unavailable (default 15 min). */
  maxStalenessMs?: number | undefined;
  /** Secrets held at most; the least recently read go first (default 1,000). */
  maxEntries?: number | undefined;
}

export interface BreakerOptions {
  /** Consecutive availability failures that open a backend's breaker (default 5). */
  failures?: number | undefined;
  /** Open time before sample calls go through (default 10 s). */
  halfOpenAfterMs?: number | undefined;
  /** Calls sampled while half-open (default 1); a failure among them re-opens it. */
  halfOpenSamples?: number | undefined;
}

export const DEFAULTS = {
  deadlineMs: 5_000,
  attemptTimeoutMs: 2_000,
  ttlMs: 300_000,
  refreshAhead: 0.8,
  maxStalenessMs: 900_000,
  maxEntries: 1_000,
  breakerFailures: 5,
  halfOpenAfterMs: 10_000,
  halfOpenSamples: 1,
  maxConcurrent: 32,
  maxQueued: 256,
  throttleAttempts: 3,
  throttleBaseMs: 100,
  throttleMaxMs: 2_000,
} as const;

export interface ResolvedOptions {
  deadlineMs: number;
  cache: (FreshnessSettings & { maxEntries: number }) | undefined;
  guard: GuardSettings;
  rules: RuleSet;
}

/** Resolves defaults and checks every number; a bad setting is a `configuration` error naming it. */
export function resolveOptions(options: FailoverClientOptions): ResolvedOptions {
  const problems: string[] = [];
  const num = (name: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const resolved = value ?? fallback;
    if (!Number.isFinite(resolved) || resolved < min || resolved > max) problems.push(`${name} must be from ${min} to ${max}, got ${String(value)}`);
    return resolved;
  };
  const cacheOptions = options.cache === false ? undefined : (options.cache ?? {});
  const resolved: ResolvedOptions = {
    deadlineMs: num("deadlineMs", options.deadlineMs, DEFAULTS.deadlineMs, 1),
    cache: cacheOptions && {
      ttlMs: num("cache.ttlMs", cacheOptions.ttlMs, DEFAULTS.ttlMs, 1),
      refreshAhead: num("cache.refreshAhead", cacheOptions.refreshAhead, DEFAULTS.refreshAhead, 0.01, 1),
      maxStalenessMs: num("cache.maxStalenessMs", cacheOptions.maxStalenessMs, DEFAULTS.maxStalenessMs, 0),
      maxEntries: num("cache.maxEntries", cacheOptions.maxEntries, DEFAULTS.maxEntries, 1),
    },
    guard: {
      attemptTimeoutMs: num("attemptTimeoutMs", options.attemptTimeoutMs, DEFAULTS.attemptTimeoutMs, 1),
      breakerFailures: num("breaker.failures", options.breaker?.failures, DEFAULTS.breakerFailures, 1),
      halfOpenAfterMs: num("breaker.halfOpenAfterMs", options.breaker?.halfOpenAfterMs, DEFAULTS.halfOpenAfterMs, 1),
      halfOpenSamples: num("breaker.halfOpenSamples", options.breaker?.halfOpenSamples, DEFAULTS.halfOpenSamples, 1),
      maxConcurrent: num("bulkhead.maxConcurrent", options.bulkhead?.maxConcurrent, DEFAULTS.maxConcurrent, 1),
      maxQueued: num("bulkhead.maxQueued", options.bulkhead?.maxQueued, DEFAULTS.maxQueued, 0),
      throttleAttempts: num("throttle.attempts", options.throttle?.attempts, DEFAULTS.throttleAttempts, 1, 10),
      throttleBackoff: {
        baseMs: num("throttle.baseMs", options.throttle?.baseMs, DEFAULTS.throttleBaseMs, 1),
        maxMs: num("throttle.maxMs", options.throttle?.maxMs, DEFAULTS.throttleMaxMs, 1),
      },
      retryBudget: new RetryBudget(),
    },
    rules: [],
  };
  if (options.fallback && options.fallback.cloud === options.primary.cloud) problems.push("primary and fallback must be stores in different clouds");
  if (options.fallback && options.rules === undefined) problems.push("rules are required with a fallback: they say which secrets are replicated there, and under which name");
  if (problems.length > 0) throw new CredmeshError("configuration", `failover client: ${problems.join("; ")}`);
  resolved.rules = typeof options.rules === "string" ? loadRules(options.rules) : (options.rules ?? []);
  return resolved;
}
