import { RATE_LIMIT_BUCKET, type RateLimitBucket } from "@credmesh/metrics";
import type { WindowLimit } from "./sliding-window.ts";

/**
 * Rate limits per destination vault, configured below the clouds' quotas (SPEC section 2;
 * FORMATS.md E and F). Limits are per process: with N replicas, give each a share.
 */
export interface RateLimitSettings {
  enabled: boolean;
  aws: {
    /**
     * Writes per account and region: PutSecretValue, UpdateSecret, CreateSecret, DeleteSecret,
     * RestoreSecret, TagResource. Their quotas are 50/s each (Put + Update combined), shared with
     * every other writer in the account.
     */
    writes: WindowLimit;
    /** GetSecretValue and DescribeSecret (quotas 10,000/s and 40,000/s); 0 = unlimited. */
    reads: WindowLimit;
  };
  keyVault: {
    /** Every transaction on a vault (4,000 per 10 s per vault, reads and writes alike). */
    operations: WindowLimit;
    /** SetSecret (300 creates per 10 s; a new name cannot be told from a new version). */
    creates: WindowLimit;
  };
  /**
   * How much longer than its window a released call is counted, unless its answer arrives sooner:
   * a call reaches the cloud a little after it leaves the limiter, and the cloud counts it on
   * arrival, so without a margin a call released at the end of one window can land in the next.
   */
  marginMs: number;
  /** Longest a call waits in the limiter; beyond it the call fails as throttled (and is retried later). */
  maxWaitMs: number;
  /** Pause after the cloud throttled without Retry-After; doubles per consecutive throttle. */
  pauseMs: number;
  /**
   * Cap of the doubling pause without Retry-After. A cloud's Retry-After is honoured whole
   * (bounded only by RETRY_AFTER_MAX_MS of @credmesh/errors): credmesh never calls sooner than asked.
   */
  maxPauseMs: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitSettings = {
  enabled: true,
  aws: {
    writes: { limit: 40, windowMs: 1_000 },
    reads: { limit: 0, windowMs: 1_000 },
  },
  keyVault: {
    operations: { limit: 3_000, windowMs: 10_000 },
    creates: { limit: 250, windowMs: 10_000 },
  },
  marginMs: 100,
  maxWaitMs: 30_000,
  pauseMs: 1_000,
  maxPauseMs: 16_000,
};

export type VaultOperation = "get" | "describe" | "put" | "delete" | "restore" | "versions" | "list";

/**
 * Tokens each port operation takes from each bucket: an upper bound of the cloud requests it
 * makes, without the polls of long-running Key Vault operations (the gap between the default and
 * the quota covers those). `versions` and `list` are paged, and their cost is per page request:
 * the adapter takes it just before each page it asks for (`VaultContext.pace`), empty pages
 * included — Key Vault GetSecretVersions, GetSecrets and GetDeletedSecrets (whose pages may be
 * empty and still carry a `nextLink`), Secrets Manager ListSecrets; Secrets Manager `versions` is
 * one DescribeSecret.
 *
 * Secrets Manager: a put is CreateSecret (a new secret), or PutSecretValue plus TagResource only
 * when the secret's tags changed; each of those APIs has its own 50/s quota and sees at most one
 * call per put, so one write token per port operation keeps every write quota under the limit.
 * Key Vault: describe is GetSecret and, for a missing secret, GetDeletedSecret; delete and
 * restore start an operation and poll it.
 */
export const OPERATION_COSTS: Readonly<Record<"aws" | "azure", Readonly<Record<VaultOperation, Partial<Record<RateLimitBucket, number>>>>>> = {
  aws: {
    get: { [RATE_LIMIT_BUCKET.reads]: 1 },
    describe: { [RATE_LIMIT_BUCKET.reads]: 1 },
    versions: { [RATE_LIMIT_BUCKET.reads]: 1 },
    list: { [RATE_LIMIT_BUCKET.reads]: 1 },
    put: { [RATE_LIMIT_BUCKET.writes]: 1 },
    delete: { [RATE_LIMIT_BUCKET.writes]: 1 },
    restore: { [RATE_LIMIT_BUCKET.writes]: 1 },
  },
  azure: {
    get: { [RATE_LIMIT_BUCKET.operations]: 1 },
    describe: { [RATE_LIMIT_BUCKET.operations]: 2 },
    versions: { [RATE_LIMIT_BUCKET.operations]: 1 },
    list: { [RATE_LIMIT_BUCKET.operations]: 1 },
    put: { [RATE_LIMIT_BUCKET.operations]: 1, [RATE_LIMIT_BUCKET.creates]: 1 },
    delete: { [RATE_LIMIT_BUCKET.operations]: 2 },
    restore: { [RATE_LIMIT_BUCKET.operations]: 2 },
  },
};

/** The buckets of one vault and their limits. */
export function bucketLimits(cloud: "aws" | "azure", settings: RateLimitSettings): Partial<Record<RateLimitBucket, WindowLimit>> {
  return cloud === "aws"
    ? { [RATE_LIMIT_BUCKET.writes]: settings.aws.writes, [RATE_LIMIT_BUCKET.reads]: settings.aws.reads }
    : { [RATE_LIMIT_BUCKET.operations]: settings.keyVault.operations, [RATE_LIMIT_BUCKET.creates]: settings.keyVault.creates };
}
