import type { Cloud } from "./clouds.ts";
import { assertToken } from "./subjects.ts";

/**
 * The KV buckets the replicas of a destination coordinate through, and their keys. Each
 * destination's keys start with the destination, so a replicator's bus identity can be allowed
 * exactly its own destination's keys (@credmesh/bus-roles).
 * @see ../../../README.md#ordering-across-replicas and #anti-entropy-credmesh-reconcile
 */
export const COORDINATION_BUCKETS = {
  /** One key per secret being replicated: `<destination>.<digest>`, expiring with the bucket's TTL. */
  secretLeases: "credmesh-secret-leases",
  /** One reconcile run per destination at a time: key `<destination>`. */
  reconcileLock: "credmesh-reconcile-lock",
  /** The last reconcile run per destination: key `<destination>`. */
  reconcileRuns: "credmesh-reconcile-runs",
  /**
   * The Key Vault source versions reconcile runs proved current: `<destination>.<digest>`, so a
   * restarted replicator (or another replica) does not read their version lists again.
   */
  reconcileVersions: "credmesh-reconcile-versions",
} as const;

/** The lease key of a secret (its digest) for a destination, e.g. `azure.3f9c…`. */
export function secretLeaseKey(destination: Cloud, digest: string): string {
  return `${assertToken(destination, "destination")}.${assertToken(digest, "secret digest")}`;
}

/** The key of a source's proved version (its digest) for a destination, e.g. `aws.5be1…`. */
export function provedVersionKey(destination: Cloud, digest: string): string {
  return `${assertToken(destination, "destination")}.${assertToken(digest, "source digest")}`;
}

/** The key of a destination in the reconcile lock and runs buckets. */
export function destinationKey(destination: Cloud): string {
  return assertToken(destination, "destination");
}
