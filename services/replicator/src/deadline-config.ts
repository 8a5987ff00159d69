import type { EnvReader } from "@credmesh/config";

/** How long one mutation, and one cloud call attempt, may take (README "Errors, retries and dead letters"). */
export interface DeadlineSettings {
  /**
   * Overall deadline of one mutation: its cloud calls and waits are aborted then, the message is
   * handed back (retryable `timeout`), progress signals and lease renewals stop.
   */
  mutationDeadlineMs: number;
  /** Timeout of one cloud call attempt (a hung connection fails as `timeout` and is retried). */
  cloudAttemptTimeoutMs: number;
}

/**
 * Reads the deadlines and checks them against what they must end before: a mutation must let go
 * of its message and its lease before either is handed to another replica.
 */
export function readDeadlineSettings(read: EnvReader, bounds: { ackWaitMs: number; secretLeaseMs: number }): DeadlineSettings {
  // Defaults fit whatever ack wait and lease are configured: 20 s, or two thirds of the shorter.
  const shortest = Math.min(bounds.ackWaitMs, bounds.secretLeaseMs > 0 ? bounds.secretLeaseMs : Number.POSITIVE_INFINITY);
  const defaultDeadline = Math.max(1_000, Math.min(20_000, Math.floor((shortest * 2) / 3)));
  const mutationDeadlineMs = read.int("CREDMESH_MUTATION_DEADLINE_MS", { default: defaultDeadline, min: 1_000, max: 600_000 });
  const settings: DeadlineSettings = {
    mutationDeadlineMs,
    cloudAttemptTimeoutMs: read.int("CREDMESH_CLOUD_ATTEMPT_TIMEOUT_MS", { default: Math.min(5_000, mutationDeadlineMs), min: 100, max: 300_000 }),
  };
  if (settings.mutationDeadlineMs >= bounds.ackWaitMs) {
    read.problem(`CREDMESH_MUTATION_DEADLINE_MS=${settings.mutationDeadlineMs} must be below CREDMESH_ACK_WAIT_MS=${bounds.ackWaitMs}`);
  }
  if (bounds.secretLeaseMs > 0 && settings.mutationDeadlineMs >= bounds.secretLeaseMs) {
    read.problem(`CREDMESH_MUTATION_DEADLINE_MS=${settings.mutationDeadlineMs} must be below CREDMESH_SECRET_LEASE_MS=${bounds.secretLeaseMs}`);
  }
  if (settings.cloudAttemptTimeoutMs > settings.mutationDeadlineMs) {
    read.problem(`CREDMESH_CLOUD_ATTEMPT_TIMEOUT_MS=${settings.cloudAttemptTimeoutMs} exceeds CREDMESH_MUTATION_DEADLINE_MS=${settings.mutationDeadlineMs}`);
  }
  return settings;
}
