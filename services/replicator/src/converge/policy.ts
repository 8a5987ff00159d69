import type { Cloud } from "@credmesh/names";
import { sameOrigin, type OriginRef } from "./provenance.ts";
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
  | { action: "skip"; decision: "skipped_duplicate" | "skipped_conflict"; detail: string }
  | { action: "refuse"; reason: "unmanaged_destination" | "name_collision"; detail: string };

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
}

export function decideUpsert(facts: UpsertFacts): UpsertDecision {
  const dest = facts.destination;
  if (dest.state === "absent") return { action: "write" };
  // A soft-deleted destination: the write itself meets the vault's answer (Key Vault 409
  // ObjectIsDeletedButRecoverable), which the adapter classifies; recovery policy is per rule.
  if (dest.state === "deleted") return { action: "write" };
  if (dest.writtenByCredmesh && dest.origin && sameOrigin(dest.origin, facts.sourceRef) && dest.copiedVersion === facts.sourceVersion.versionId) {
    return { action: "skip", decision: "skipped_duplicate", detail: "the replica already holds this origin version" };
  }
  const replicaOfSource = dest.origin !== undefined && sameOrigin(dest.origin, facts.sourceRef);
  if (!replicaOfSource && !facts.pairedWithDestination) {
    return dest.origin
      ? { action: "refuse", reason: "name_collision", detail: "the destination secret replicates another source secret" }
      : { action: "refuse", reason: "unmanaged_destination", detail: "the destination secret is not managed by credmesh" };
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
