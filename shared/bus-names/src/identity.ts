import { PREFIX, assertToken, cellToken } from "./subjects.ts";

/**
 * Names the identity-watcher and the quarantine gate of the replicators share: KV buckets,
 * operator request subjects, the quarantine audit subject and the watcher's durable consumers.
 * @see ../../../README.md#quarantine
 */
export const KV_BUCKETS = {
  /** One key per cell ({@link cellKey}); the value is a quarantine record (@credmesh/events). */
  quarantine: "credmesh-quarantine",
  /** The identity-watcher's last judged state per certificate, and per-cell policy evidence. */
  identityState: "credmesh-identity-state",
} as const;

/** Durable consumers of the identity-watcher. */
export const IDENTITY_WATCHER_DURABLES = {
  /** Key Vault certificate lifecycle events (CREDMESH_LIFECYCLE). */
  lifecycle: "identity-watcher-lifecycle",
  /** The replicators' identity observations (clock_skew, access_denied) in CREDMESH_IDENTITY. */
  observations: "identity-watcher-observations",
} as const;

/** Lifecycle subjects of vault certificates, e.g. `credmesh.lifecycle.certificate.near_expiry`. */
export const LIFECYCLE_CERTIFICATE_FILTER = `${PREFIX}.lifecycle.certificate.>`;

/** Identity event kinds the replicators publish as observations (the watcher publishes the others). */
export const OBSERVATION_KINDS = ["clock_skew", "access_denied"] as const;
export type ObservationKind = (typeof OBSERVATION_KINDS)[number];

/** Filters of the observations consumer: every cell's observation kinds, none of the watcher's own events. */
export function observationFilters(): string[] {
  return OBSERVATION_KINDS.map((kind) => `${PREFIX}.identity.*.${kind}`);
}

/** Operator commands on a cell, served by the identity-watcher. */
export const QUARANTINE_COMMANDS = ["quarantine", "release"] as const;
export type QuarantineCommand = (typeof QUARANTINE_COMMANDS)[number];

/**
 * Request/reply subject of an operator command on a cell (core NATS, queue group: one watcher
 * replica answers), e.g. `credmesh.control.quarantine.e2e-azure-1`. Its own subject per command,
 * so NATS permissions can grant quarantine without release.
 */
export function quarantineControlSubject(command: QuarantineCommand, cell: string): string {
  return `${PREFIX}.control.${assertToken(command, "command")}.${cellToken(cell)}`;
}

/** What the watcher subscribes to for one command: every cell. */
export function quarantineControlFilter(command: QuarantineCommand): string {
  return `${PREFIX}.control.${assertToken(command, "command")}.*`;
}

/** Queue group of the identity-watcher replicas answering operator commands. */
export const IDENTITY_WATCHER_GROUP = "identity-watcher";

/**
 * Audit subject of a cell's quarantine and release records (stream CREDMESH_AUDIT), e.g.
 * `credmesh.audit.quarantine.e2e-azure-1`: one subject per cell, so the last record of a cell can
 * be read directly (it tells whether the cell's latest transition was announced).
 */
export function quarantineAuditSubject(cell: string): string {
  return `${PREFIX}.audit.quarantine.${cellToken(cell)}`;
}

/**
 * The KV key of a cell. Injective, unlike {@link cellToken}: `@` (allowed in cell ids, not in KV
 * keys) becomes `=40`, and `=` never occurs in a cell id.
 */
export function cellKey(cell: string): string {
  const key = cell.replace(/@/g, "=40");
  if (!/^[-/_=.a-zA-Z0-9]+$/.test(key) || key.startsWith(".") || key.endsWith(".")) {
    throw new RangeError(`cell "${cell}" cannot be a KV key`);
  }
  return key;
}
