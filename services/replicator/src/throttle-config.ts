import type { EnvReader } from "@credmesh/config";
import { DEFAULT_RATE_LIMITS, type RateLimitSettings } from "@credmesh/vault";

/**
 * Rate limits per vault (SPEC section 2 "Writes are rate-limited per destination vault below the
 * cloud quotas"; quotas in FORMATS.md E and F). Each limit is "at most N in any window": Secrets
 * Manager writes per second per account and region, Key Vault operations and creates per 10 s per
 * vault. Limits are per replicator process; with several replicas, give each its share.
 * @see ../../../README.md#throttling
 */
export function readThrottleSettings(read: EnvReader): RateLimitSettings {
  const defaults = DEFAULT_RATE_LIMITS;
  const settings: RateLimitSettings = {
    enabled: read.bool("CREDMESH_RATE_LIMIT", defaults.enabled),
    aws: {
      writes: { limit: read.int("CREDMESH_RATE_LIMIT_AWS_WRITES_PER_SECOND", { default: defaults.aws.writes.limit, min: 1, max: 10_000 }), windowMs: 1_000 },
      reads: { limit: read.int("CREDMESH_RATE_LIMIT_AWS_READS_PER_SECOND", { default: defaults.aws.reads.limit, min: 0, max: 100_000 }), windowMs: 1_000 },
    },
    keyVault: {
      operations: {
        limit: read.int("CREDMESH_RATE_LIMIT_KEYVAULT_OPERATIONS_PER_10S", { default: defaults.keyVault.operations.limit, min: 1, max: 100_000 }),
        windowMs: 10_000,
      },
      creates: {
        limit: read.int("CREDMESH_RATE_LIMIT_KEYVAULT_CREATES_PER_10S", { default: defaults.keyVault.creates.limit, min: 1, max: 100_000 }),
        windowMs: 10_000,
      },
    },
    marginMs: read.int("CREDMESH_RATE_LIMIT_MARGIN_MS", { default: defaults.marginMs, min: 0, max: 10_000 }),
    maxWaitMs: read.int("CREDMESH_RATE_LIMIT_MAX_WAIT_MS", { default: defaults.maxWaitMs, min: 0, max: 600_000 }),
    pauseMs: read.int("CREDMESH_RATE_LIMIT_PAUSE_MS", { default: defaults.pauseMs, min: 0, max: 600_000 }),
    maxPauseMs: read.int("CREDMESH_RATE_LIMIT_MAX_PAUSE_MS", { default: defaults.maxPauseMs, min: 0, max: 600_000 }),
  };
  if (settings.keyVault.creates.limit > settings.keyVault.operations.limit) {
    read.problem(
      `CREDMESH_RATE_LIMIT_KEYVAULT_CREATES_PER_10S=${settings.keyVault.creates.limit} exceeds CREDMESH_RATE_LIMIT_KEYVAULT_OPERATIONS_PER_10S=${settings.keyVault.operations.limit}: every create is also an operation`,
    );
  }
  if (settings.pauseMs > settings.maxPauseMs) {
    read.problem(`CREDMESH_RATE_LIMIT_PAUSE_MS=${settings.pauseMs} exceeds CREDMESH_RATE_LIMIT_MAX_PAUSE_MS=${settings.maxPauseMs}`);
  }
  return settings;
}
