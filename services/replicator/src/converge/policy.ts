import type { Cloud } from "@credmesh/bus-names";
import { sameOrigin, type OriginRef } from "@credmesh/replicas";
import type { SideState } from "./sides.ts";

/**
 * The replication decision for one upsert, as a pure function of both sides' state. This is where
 * ownership, deduplication and the bidirectional conflict policy live.
 *
 * Conflict (a secret changed on both sides before either change replicated) is recognised from
 * provenance, not clocks: the destination's current version is someone's change that the source
 * has not seen (the source's last copied version is not it). Only then do timestamps decide: the
 * later change wins, judged by each cloud's creation time of the current version at whole-second
 * precision (Key Vault's), and on a tie AWS wins. Both replicators apply the same rule to the same
 * facts, so exactly one direction writes and the clouds converge on one value.
 * See README "Bidirectional replication".
 */
export type UpsertDecision =
  | { action: "write" }
  | { action: "recover" }
  | { action: "skip"; decision: "skipped_duplicate" | "skipped_conflict" | "skipped_stale"; detail: string }
  | { action: "refuse"; reason: "unmanaged_destination" | "name_collision" | "deleted_in_destination"; detail: string };

export interface UpsertFacts {
  /** The source secret's identity at its origin. */
  sourceRef: OriginRef;
  sourceVersion: { versionId: string; createdAt?: Date | undefined };
  /** The destination version the source's side last received from credmesh, if any. */
  sourceCopiedVersion?: string | undefined;
  /** The source is itself credmesh's replica of the destination secret (a bidirectional pair). */
  pairedWithDestination: boolean;
  destination: SideState;
  destinationCloud: Cloud;
  /** Rule: take over a destination secret credmesh does not manage. */
  adoptUnmanaged?: boolean;
  /** Rule: recover a soft-deleted destination before writing, or refuse. */
  onDeletedDestination?: "recover" | "fail";
}

export function decideUpsert(facts: UpsertFacts): UpsertDecision {
  const dest = facts.destination;
  if (dest.state === "absent") return { action: "write" };
  const replicaOfSource = dest.origin !== undefined && sameOrigin(dest.origin, facts.sourceRef);
  if (!replicaOfSource && !facts.pairedWithDestination) {
    if (dest.origin) {
      return { action: "refuse", reason: "name_collision", detail: "the destination secret replicates another source secret" };
    }
    if (!facts.adoptUnmanaged) {
      return { action: "refuse", reason: "unmanaged_destination", detail: "the destination secret is not managed by credmesh" };
    }
  }
  if (dest.state === "deleted") {
    return facts.onDeletedDestination === "fail"
      ? { action: "refuse", reason: "deleted_in_destination", detail: "the destination secret is soft-deleted and the rule forbids recovering it" }
      : { action: "recover" };
  }
  if (dest.writtenByCredmesh && replicaOfSource && dest.copiedVersion === facts.sourceVersion.versionId) {
    return { action: "skip", decision: "skipped_duplicate", detail: "the replica already holds this origin version" };
  }
  // Monotonicity: never replace a copy of a newer origin version with an older one, whatever
  // the order or number of deliveries (or a slower replica racing a faster one).
  const copiedAt = dest.copiedVersionCreatedAt?.getTime();
  const sourceAt = facts.sourceVersion.createdAt?.getTime();
  if (replicaOfSource && copiedAt !== undefined && sourceAt !== undefined && copiedAt > sourceAt) {
    return { action: "skip", decision: "skipped_stale", detail: "the replica holds a newer origin version" };
  }
  const seenBySource = dest.current !== undefined && facts.sourceCopiedVersion === dest.current.versionId;
  if (dest.state === "active" && !dest.writtenByCredmesh && !seenBySource) {
    const destTime = wholeSeconds(dest.current?.createdAt);
    const sourceTime = wholeSeconds(facts.sourceVersion.createdAt);
    if (destTime !== undefined && sourceTime !== undefined) {
      if (destTime > sourceTime || (destTime === sourceTime && facts.destinationCloud === "aws")) {
        return { action: "skip", decision: "skipped_conflict", detail: "the destination changed later; that change replicates the other way" };
      }
    }
  }
  return { action: "write" };
}

/** Key Vault reports whole seconds; comparing at that precision keeps both directions consistent. */
function wholeSeconds(date: Date | undefined): number | undefined {
  return date === undefined ? undefined : Math.floor(date.getTime() / 1000);
}
