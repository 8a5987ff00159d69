import { toCredmeshError } from "@credmesh/errors";
import type { Cloud } from "@credmesh/bus-names";

/**
 * What a reconcile run found and did, as the on-demand reply and the periodic run's log line
 * report it. Identifiers, versions and reasons only — never a value.
 * @see ../../../../README.md#anti-entropy
 */

/** The kinds of finding: corrective mutations (sync, delete) and what is only reported. */
export const ACTION = {
  /** A `sync` mutation: the replicator pulls the source's current state and converges. */
  sync: "sync",
  /** A `delete` mutation: the replicator soft-deletes the replica. */
  delete: "delete",
  /** A replica whose source no rule replicates to this place anymore: reported, never touched. */
  orphan: "orphan",
  /** A destination the replicator would refuse (unmanaged, another source's replica, ...): reported. */
  conflict: "conflict",
} as const;
export type Action = (typeof ACTION)[keyof typeof ACTION];

/** Why a finding was made; also the detail of its audit record. */
export const REASON = {
  missing: "missing",
  stale: "stale",
  replicaDeleted: "replica_deleted",
  changedOnBothSides: "changed_on_both_sides",
  pairChanged: "pair_changed",
  adoptUnmanaged: "adopt_unmanaged",
  sourceDeleted: "source_deleted",
  sourceGone: "source_gone",
  noRule: "no_rule",
  notMappedName: "not_the_mapped_name",
  unmanagedDestination: "unmanaged_destination",
  nameCollision: "name_collision",
  recoveryForbidden: "recovery_forbidden",
  changedInDestination: "changed_in_destination",
  /** A replica changed by hand: synced (onDrift: overwrite) or reported (onDrift: keep). */
  drift: "drift",
} as const;
export type Reason = (typeof REASON)[keyof typeof REASON];

/** What became of a finding in this run. */
export const STATUS = {
  published: "published",
  /** JetStream already held this corrective mutation (same id inside the duplicate window). */
  duplicate: "duplicate",
  dryRun: "dry_run",
  /** Not published: more deletes than CREDMESH_RECONCILE_MAX_DELETES allows in one run. */
  held: "held",
  failed: "failed",
  /** Orphans and conflicts are reported, never acted on. */
  reported: "reported",
} as const;
export type Status = (typeof STATUS)[keyof typeof STATUS];

export interface SecretIdentity {
  cloud: Cloud;
  account?: string;
  region?: string;
  vault?: string;
  name: string;
  /** The source's current version, when known. */
  versionId?: string;
}

export interface Finding {
  action: Action;
  reason: Reason;
  rule?: string;
  source?: SecretIdentity;
  destination: { vault: string; name: string };
  /** The corrective mutation's event id (also its JetStream message id), for sync and delete. */
  eventId?: string;
  status: Status;
}

export interface RunError {
  /** What could not be done: a listing (`list aws/us-east-1`), a secret, a publish. */
  scope: string;
  reason: string;
  message: string;
  rule?: string;
}

export interface ReconcileReport {
  runId: string;
  destination: Cloud;
  cell: string;
  dryRun: boolean;
  trigger: "request" | "schedule";
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** Findings per action, plus the secrets found in sync and the errors. */
  counts: Record<Action, number> & { unchanged: number; errors: number };
  /** Every finding, up to {@link MAX_REPORTED_FINDINGS}; `truncated` says when more were found. */
  actions: Finding[];
  truncated?: boolean;
  errors: RunError[];
}

/** Keeps a reply under NATS's default 1 MB payload limit even for a first run over a big estate. */
export const MAX_REPORTED_FINDINGS = 1_000;

export function emptyCounts(): ReconcileReport["counts"] {
  return { sync: 0, delete: 0, orphan: 0, conflict: 0, unchanged: 0, errors: 0 };
}

/** A run error from anything thrown; credmesh errors carry credmesh-written, secret-free messages. */
export function runErrorOf(scope: string, error: unknown, rule?: string): RunError {
  const failure = toCredmeshError(error);
  return { scope, reason: failure.reason, message: failure.message, ...(rule ? { rule } : {}) };
}
