import { createHash } from "node:crypto";
import type { Cloud } from "./clouds.ts";

/**
 * Every stream, subject and durable consumer name, built in one place.
 *
 * Subject scheme (tap any of them with `nats sub`):
 *   credmesh.mutation.<destination>.p<NN>    canonical mutation events, partitioned per secret
 *   credmesh.dlq.<destination>               dead-letter records (no secret values)
 *   credmesh.audit.<destination>.<decision>  one record per replicator decision
 *   credmesh.lifecycle.<object>.<kind>       Key Vault lifecycle events (expiry, new key or
 *                                            certificate versions, access policy changes)
 *   credmesh.identity.<cell>.<kind>          identity events of a cell (clock skew refusals, ...)
 *                                            for the identity-watcher
 *
 *   credmesh.control.<command>.<target>     operator requests over core NATS (reconcile, quarantine, release)
 *   credmesh.audit.quarantine.<cell>         quarantine and release of a cell, who, when and why
 *
 * @see ../../../README.md#the-bus
 */
export const PREFIX = "credmesh";

export const STREAMS = {
  mutations: { name: "CREDMESH_MUTATIONS", subjects: [`${PREFIX}.mutation.>`] },
  deadLetters: { name: "CREDMESH_DLQ", subjects: [`${PREFIX}.dlq.>`] },
  audit: { name: "CREDMESH_AUDIT", subjects: [`${PREFIX}.audit.>`] },
  lifecycle: { name: "CREDMESH_LIFECYCLE", subjects: [`${PREFIX}.lifecycle.>`] },
  identity: { name: "CREDMESH_IDENTITY", subjects: [`${PREFIX}.identity.>`] },
} as const;

export type StreamKey = keyof typeof STREAMS;

/** Partitions per destination. Mutations of one secret always land in the same partition. */
export const DEFAULT_PARTITIONS = 16;

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** A subject token must not contain separators or wildcards; names are built from known parts only. */
export function assertToken(token: string, what: string): string {
  if (!TOKEN.test(token)) throw new RangeError(`${what} "${token}" is not a valid subject token`);
  return token;
}

/**
 * A token standing for a name that cannot be one (secret names, file paths: separators, dots,
 * wildcards): 40 hex digits of its SHA-256. KV keys built from such names use it.
 */
export function tokenDigest(name: string): string {
  return createHash("sha256").update(name).digest("hex").slice(0, 40);
}

/**
 * Stable partition of a secret: FNV-1a over its identity key, modulo the partition count. The
 * key identifies the secret at its origin (cloud, account/vault, name), never its value.
 */
export function partitionOf(secretKey: string, partitions: number = DEFAULT_PARTITIONS): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError("partitions must be a positive integer");
  let hash = 0x811c9dc5;
  for (let i = 0; i < secretKey.length; i++) {
    hash ^= secretKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

export function mutationSubject(destination: Cloud, partition: number): string {
  return `${PREFIX}.mutation.${assertToken(destination, "destination")}.p${String(partition).padStart(2, "0")}`;
}

/** Filter that matches every partition of one destination. */
export function mutationFilter(destination: Cloud): string {
  return `${PREFIX}.mutation.${assertToken(destination, "destination")}.>`;
}

export function deadLetterSubject(destination: Cloud): string {
  return `${PREFIX}.dlq.${assertToken(destination, "destination")}`;
}

/**
 * Dead letters of the identity-watcher (`credmesh.dlq.identity-watcher`): lifecycle events and
 * observations it refused (invalid, inconsistent) or gave up on. Same stream and record shape as
 * the replicators' dead letters; nothing to replay (they carry no mutation).
 */
export function identityDeadLetterSubject(): string {
  return `${PREFIX}.dlq.identity-watcher`;
}

export function auditSubject(destination: Cloud, decision: string): string {
  return `${PREFIX}.audit.${assertToken(destination, "destination")}.${assertToken(decision, "decision")}`;
}

/**
 * Durable consumer of one destination cloud, e.g. `replicator-azure`, or of one of its partitions,
 * e.g. `replicator-azure-p07` (one pinned consumer per partition keeps a secret on one replica).
 */
export function replicatorDurable(destination: Cloud, partition?: number): string {
  const base = `replicator-${assertToken(destination, "destination")}`;
  return partition === undefined ? base : `${base}-p${String(partition).padStart(2, "0")}`;
}

/** Priority group the replicas of a destination pull in (NATS pinned-client priority policy). */
export const REPLICA_GROUP = "replicas";

/** Subject of a lifecycle event, e.g. `credmesh.lifecycle.certificate.near_expiry`. */
export function lifecycleSubject(objectType: string, kind: string): string {
  return `${PREFIX}.lifecycle.${assertToken(objectType, "object type")}.${assertToken(kind, "lifecycle kind")}`;
}

/**
 * Request/reply subject of an operator command served by the replicators of one destination
 * (core NATS, queue group — one replica answers), e.g. `credmesh.control.reconcile.azure`.
 */
export function controlSubject(command: string, destination: Cloud): string {
  return `${PREFIX}.control.${assertToken(command, "command")}.${assertToken(destination, "destination")}`;
}

/**
 * Subject of an identity event of a cell, e.g. `credmesh.identity.e2e-azure-1.clock_skew`, for the
 * identity-watcher. Cell ids may contain `.` and `@`, which are not subject-safe; each such
 * character becomes `_` (the event body carries the exact cell id).
 */
export function identitySubject(cell: string, kind: string): string {
  return `${PREFIX}.identity.${cellToken(cell)}.${assertToken(kind, "identity event kind")}`;
}

/**
 * A cell id as one subject token: `.` and `@` (allowed in cell ids, not in tokens) become `_`.
 * Not injective (`a.b` and `a_b` share a token): messages carry the exact cell id in their body.
 */
export function cellToken(cell: string): string {
  return assertToken(cell.replace(/[^A-Za-z0-9_-]/g, "_"), "cell");
}
