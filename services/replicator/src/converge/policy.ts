import type { Cloud } from "@credmesh/bus-names";
import type { DriftPolicy } from "@credmesh/config";
import { sameOrigin, type OriginRef } from "@credmesh/replicas";
import type { SideState } from "./sides.ts";

/**
 * The replication decisions, as pure functions of both sides' state: ownership, deduplication,
 * echo prevention, monotonicity, the drift policy and the bidirectional conflict policy live
 * here, and only here. The mutation path performs the one effect a decision names; the reconciler
 * asks the same functions about what it listed, so "what would the replicator do" has one answer.
 *
 * Conflict (a secret changed on both sides of a bidirectional pair before either change
 * replicated) is recognised from provenance, not clocks; only then do timestamps decide: the later
 * change wins, judged by each cloud's creation time of the current version at whole-second
 * precision (Key Vault's), and on a tie AWS wins. Drift (a replica changed by hand where no rule
 * carries the change back) follows the rule's `onDrift`. See README "Bidirectional replication"
 * and "Ownership, monotonicity and ordering".
 */

/** Why a write is needed; the reconciler reports it as the reason of its `sync`. */
export type WriteReason = "missing" | "stale" | "drift" | "adopt_unmanaged" | "pair_changed" | "changed_on_both_sides";

export type RefusalReason = "unmanaged_destination" | "name_collision" | "deleted_in_destination";

export type UpsertDecision =
  | { action: "write"; why: WriteReason; /** The version a drift overwrite replaces. */ replaces?: string }
  | { action: "recover" }
  /** The destination's version `versionId` is this mutation's own earlier write (its response was lost). */
  | { action: "confirm"; versionId: string }
  /** Deciding needs the destination version's creation time, which the cheap read did not tell. */
  | { action: "need_created" }
  /** Deciding needs to know which destination version the source last received (its older versions). */
  | { action: "need_source_history" }
  | { action: "skip"; decision: "skipped_duplicate" | "skipped_conflict" | "skipped_stale" | "skipped_echo" | "skipped_drift" | "skipped_absent"; detail: string }
  | { action: "refuse"; reason: RefusalReason; detail: string };

export interface UpsertFacts {
  /** The source secret's identity at its origin. */
  sourceRef: OriginRef;
  source: SideState;
  destination: SideState;
  destinationCloud: Cloud;
  /** A rule replicates the destination secret back to the source's place (a bidirectional pair). */
  pairCoveredBack: boolean;
  /**
   * The source's older versions were read (or could tell nothing more), so `source.copiedVersion`
   * is all that is known of what it last received from the destination.
   */
  sourceHistoryRead?: boolean | undefined;
  /** {@link mutationDigest} of the mutation being applied, when there is one (the reconciler has none). */
  mutation?: string | undefined;
  /** Rule: take over a destination secret credmesh does not manage. */
  adoptUnmanaged?: boolean | undefined;
  /** Rule: recover a soft-deleted destination before writing, or refuse. */
  onDeletedDestination?: "recover" | "fail" | undefined;
  /** Rule: what to do with a replica changed by hand. */
  onDrift?: DriftPolicy | undefined;
}

export function decideUpsert(facts: UpsertFacts): UpsertDecision {
  const { source, destination: dest } = facts;
  const sourceVersion = source.current;
  if (source.state !== "active" || !sourceVersion) {
    // Nothing to copy: the source is gone or scheduled for deletion; its delete event (or the
    // reconciler) decides what happens to the replica.
    return { action: "skip", decision: "skipped_absent", detail: `source is ${source.state}` };
  }
  if (source.writtenByCredmesh && source.originCloud === facts.destinationCloud) {
    return { action: "skip", decision: "skipped_echo", detail: "the source version is credmesh's copy from the destination" };
  }
  if (dest.state === "absent") return { action: "write", why: "missing" };
  const replicaOfSource = dest.origin !== undefined && sameOrigin(dest.origin, facts.sourceRef);
  /** The source is credmesh's replica of the destination secret (a bidirectional pair). */
  const pairedCopy = source.origin?.cloud === facts.destinationCloud;
  if (!replicaOfSource && !pairedCopy) {
    if (dest.origin) return { action: "refuse", reason: "name_collision", detail: "the destination secret replicates another source secret" };
    if (!facts.adoptUnmanaged) return { action: "refuse", reason: "unmanaged_destination", detail: "the destination secret is not managed by credmesh" };
  }
  if (dest.state === "deleted") {
    return facts.onDeletedDestination === "fail"
      ? { action: "refuse", reason: "deleted_in_destination", detail: "the destination secret is soft-deleted and the rule forbids recovering it" }
      : { action: "recover" };
  }
  if (dest.writtenByCredmesh && facts.mutation !== undefined && dest.writtenBy === facts.mutation && dest.current) {
    return { action: "confirm", versionId: dest.current.versionId };
  }
  if (dest.writtenByCredmesh && replicaOfSource && dest.copiedVersion === sourceVersion.versionId) {
    return { action: "skip", decision: "skipped_duplicate", detail: "the replica already holds this origin version" };
  }
  // Monotonicity: never replace a copy of a newer origin version with an older one, whatever
  // the order or number of deliveries (or a slower replica racing a faster one).
  const copiedAt = dest.copiedVersionCreatedAt?.getTime();
  const sourceAt = sourceVersion.createdAt?.getTime();
  if (replicaOfSource && dest.writtenByCredmesh && copiedAt !== undefined && sourceAt !== undefined && copiedAt > sourceAt) {
    return { action: "skip", decision: "skipped_stale", detail: "the replica holds a newer origin version" };
  }
  if (dest.writtenByCredmesh) return { action: "write", why: pairedCopy && !replicaOfSource ? "pair_changed" : "stale" };

  // Someone other than credmesh wrote the destination's current version.
  if (!replicaOfSource && !pairedCopy) return { action: "write", why: "adopt_unmanaged" };
  const sourceUnchanged = replicaOfSource ? dest.copiedVersion === sourceVersion.versionId : false;
  /**
   * The destination's current version is what the source last received from credmesh: that change
   * already replicated the other way, and only the source changed since. Provenance, not clocks
   * (they may tie within a second).
   */
  const seenBySource = dest.current !== undefined && source.copiedVersion === dest.current.versionId;
  const needHistory = source.copiedVersion === undefined && !facts.sourceHistoryRead;
  if (pairedCopy && !replicaOfSource) {
    if (seenBySource) return { action: "write", why: "pair_changed" };
    if (needHistory) return { action: "need_source_history" };
    return lastWriterWins(facts);
  }
  if (!facts.pairCoveredBack) {
    // Drift: the replica was changed by hand and no rule carries that change back.
    if (facts.onDrift === "keep") {
      return { action: "skip", decision: "skipped_drift", detail: "the replica was changed in the destination; the rule keeps such changes (onDrift: keep)" };
    }
    return { action: "write", why: "drift", ...(dest.current ? { replaces: dest.current.versionId } : {}) };
  }
  if (sourceUnchanged) {
    return { action: "skip", decision: "skipped_conflict", detail: "the destination changed and the source did not; that change replicates the other way" };
  }
  if (seenBySource) return { action: "write", why: "stale" };
  if (needHistory) return { action: "need_source_history" };
  return lastWriterWins(facts);
}

/** Both sides changed: the later change wins (whole seconds), AWS on a tie. */
function lastWriterWins(facts: UpsertFacts): UpsertDecision {
  const destTime = wholeSeconds(facts.destination.current?.createdAt);
  const sourceTime = wholeSeconds(facts.source.current?.createdAt);
  if (destTime === undefined && facts.destination.current) return { action: "need_created" };
  if (destTime !== undefined && sourceTime !== undefined) {
    if (destTime > sourceTime || (destTime === sourceTime && facts.destinationCloud === "aws")) {
      return { action: "skip", decision: "skipped_conflict", detail: "the destination changed later; that change replicates the other way" };
    }
  }
  return { action: "write", why: "changed_on_both_sides" };
}

/** Key Vault reports whole seconds; comparing at that precision keeps both directions consistent. */
function wholeSeconds(date: Date | undefined): number | undefined {
  return date === undefined ? undefined : Math.floor(date.getTime() / 1000);
}

export type DeleteDecision =
  | { action: "delete"; purge: boolean; why: "source_deleted" | "drift"; replaces?: string }
  | { action: "skip"; decision: "skipped_absent" | "skipped_duplicate" | "skipped_drift"; detail: string }
  | { action: "refuse"; reason: "unmanaged_destination" | "name_collision"; detail: string };

export interface DeleteFacts {
  sourceRef: OriginRef;
  source: SideState;
  destination: SideState;
  destinationCloud: Cloud;
  /** The origin force-deleted the secret (no recovery window). */
  forceDeleted: boolean;
  onDelete?: "soft-delete" | "ignore" | undefined;
  onForceDelete?: "soft-delete" | "purge" | undefined;
  adoptUnmanaged?: boolean | undefined;
  onDrift?: DriftPolicy | undefined;
}

/** What becomes of a replica whose source was deleted. */
export function decideDelete(facts: DeleteFacts): DeleteDecision {
  const { source, destination: dest } = facts;
  if (facts.onDelete === "ignore") return { action: "skip", decision: "skipped_absent", detail: "rule keeps replicas of deleted secrets" };
  if (source.state === "active") return { action: "skip", decision: "skipped_absent", detail: "the source exists again" };
  if (dest.state !== "active") return { action: "skip", decision: "skipped_duplicate", detail: `replica already ${dest.state}` };
  const owned = dest.owner !== undefined && sameOrigin(dest.owner, facts.sourceRef);
  if (source.origin?.cloud === facts.destinationCloud && !owned) {
    // The deleted secret was itself a replica of this destination secret: deleting a copy never
    // deletes the original.
    return { action: "skip", decision: "skipped_absent", detail: "the destination is the origin of the deleted replica" };
  }
  // Never purge unless the rule says so for force deletes: by default the replica stays
  // recoverable for the vault's retention period (SPEC section 2).
  const purge = facts.forceDeleted && facts.onForceDelete === "purge";
  if (owned) return { action: "delete", purge, why: "source_deleted" };
  if (dest.origin && sameOrigin(dest.origin, facts.sourceRef)) {
    // Our replica, changed by hand since: the drift policy decides whether the deletion carries it away.
    if (facts.onDrift === "keep") {
      return { action: "skip", decision: "skipped_drift", detail: "the replica was changed in the destination; the rule keeps such changes (onDrift: keep)" };
    }
    return { action: "delete", purge, why: "drift", ...(dest.current ? { replaces: dest.current.versionId } : {}) };
  }
  if (dest.owner) return { action: "refuse", reason: "name_collision", detail: "the destination secret replicates another source secret" };
  if (!facts.adoptUnmanaged) return { action: "refuse", reason: "unmanaged_destination", detail: "the destination secret is not managed by credmesh" };
  return { action: "delete", purge, why: "source_deleted" };
}
