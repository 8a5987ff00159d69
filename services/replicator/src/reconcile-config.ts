import type { EnvReader } from "@credmesh/config";

/**
 * Anti-entropy settings of a replicator cell, resolved at boot with the rest of its configuration.
 * @see ../../../README.md#anti-entropy
 */
export interface ReconcileConfig {
  /** Seconds between periodic runs across the destination's replicas; 0: on demand only. */
  intervalSeconds: number;
  /** Most replica deletes one run publishes; more are held and reported (0: report deletes only). */
  maxDeletes: number;
}

export function readReconcileConfig(read: EnvReader): ReconcileConfig {
  const intervalSeconds = read.int("CREDMESH_RECONCILE_INTERVAL_SECONDS", { default: 3_600, min: 0, max: 7 * 86_400 });
  if (intervalSeconds > 0 && intervalSeconds < 10) {
    read.problem(`CREDMESH_RECONCILE_INTERVAL_SECONDS="${intervalSeconds}" must be 0 (on demand only) or at least 10`);
  }
  return {
    intervalSeconds,
    maxDeletes: read.int("CREDMESH_RECONCILE_MAX_DELETES", { default: 100, min: 0, max: 1_000_000 }),
  };
}
