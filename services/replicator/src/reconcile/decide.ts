import type { Rule } from "@credmesh/config";
import type { Cloud } from "@credmesh/bus-names";
import type { ListedSecret, VersionInfo } from "@credmesh/vault";
import type { OriginRef } from "@credmesh/replicas";
import { decideDelete, decideUpsert, type RefusalReason, type WriteReason } from "../converge/policy.ts";
import { ABSENT, sideOf, type SideState } from "../converge/sides.ts";
import { REASON, type Reason } from "./report.ts";

/**
 * The reconciler's findings, derived from the replicator's own decisions (converge/policy.ts) over
 * sides read from the listings with the replicator's own reading (converge/sides.ts): a corrective
 * mutation is published only where the replicator would write or delete, and what it would refuse
 * or keep is reported as a conflict instead of being dead-lettered on every run. The replicator,
 * which re-reads both sides when the mutation arrives, stays the one place that writes.
 * @see ../../../../README.md#anti-entropy
 */

/** What Key Vault's version metadata adds to an entry: its current version id, and older versions' provenance. */
export interface ResolvedVersions {
  currentVersionId?: string;
  earlier?: readonly VersionInfo[];
}

/** A listed secret read as a side, exactly as the replicator reads one. */
export function listedSide(tagsPerVersion: boolean, entry: ListedSecret | undefined, resolved?: ResolvedVersions): SideState {
  if (!entry) return ABSENT;
  return sideOf({
    state: entry.state,
    versionId: entry.currentVersionId ?? resolved?.currentVersionId,
    createdAt: entry.currentCreatedAt,
    stamp: entry.currentStamp,
    tags: entry.tags,
    tagsPerVersion,
    earlier: resolved?.earlier,
  });
}

export type Verdict =
  | { kind: "unchanged"; why: string }
  | { kind: "sync" | "delete" | "conflict" | "orphan"; reason: Reason }
  /** A replica whose source cannot be proven gone: the cell does not see the source's account. */
  | { kind: "unverifiable"; why: string };

export interface SourceFacts {
  rule: Rule;
  sourceRef: OriginRef;
  source: SideState;
  destination: SideState;
  /**
   * The destination secret is itself replicated back to the source's place by a rule (a
   * bidirectional pair): a change or deletion made to it is that direction's to carry.
   */
  pairCoveredBack: boolean;
}

const WRITE_REASONS: Readonly<Record<WriteReason, Reason>> = {
  missing: REASON.missing,
  stale: REASON.stale,
  drift: REASON.drift,
  adopt_unmanaged: REASON.adoptUnmanaged,
  pair_changed: REASON.pairChanged,
  changed_on_both_sides: REASON.changedOnBothSides,
};

const REFUSAL_REASONS: Readonly<Record<RefusalReason, Reason>> = {
  unmanaged_destination: REASON.unmanagedDestination,
  name_collision: REASON.nameCollision,
  deleted_in_destination: REASON.recoveryForbidden,
};

/** The verdict for one source secret in scope and the destination secret it maps to. */
export function decideSource(facts: SourceFacts): Verdict {
  const { rule, sourceRef, source, destination } = facts;
  const destinationCloud: Cloud = rule.destination.cloud;
  const policy = { adoptUnmanaged: rule.adoptUnmanaged, onDrift: rule.onDrift };

  if (source.state === "deleted") {
    const decision = decideDelete({ sourceRef, source, destination, destinationCloud, forceDeleted: false, onDelete: rule.onDelete, onForceDelete: rule.onForceDelete, ...policy });
    switch (decision.action) {
      case "delete":
        return verdict("delete", decision.why === "drift" ? REASON.drift : REASON.sourceDeleted);
      case "skip":
        return decision.decision === "skipped_drift" ? verdict("conflict", REASON.drift) : unchanged(decision.detail);
      case "refuse":
        return verdict("conflict", REFUSAL_REASONS[decision.reason]);
    }
  }
  if (source.state !== "active") return unchanged("the source does not exist");
  // Deleted in a bidirectional pair: the other direction deletes this copy (its replicator deletes
  // a secret whose provenance names the deleted one), so resurrecting the original would fight it.
  if (destination.state !== "active" && facts.pairCoveredBack && source.owner?.cloud === destinationCloud && !source.writtenByCredmesh) {
    return unchanged("the destination secret was deleted; its deletion replicates to this copy");
  }
  const decision = decideUpsert({
    sourceRef,
    source,
    destination,
    destinationCloud,
    pairCoveredBack: facts.pairCoveredBack,
    onDeletedDestination: rule.onDeletedDestination,
    ...policy,
  });
  switch (decision.action) {
    case "write":
      return verdict("sync", WRITE_REASONS[decision.why]);
    case "recover":
      return verdict("sync", REASON.replicaDeleted);
    case "need_created":
    case "need_source_history":
      // Both sides may have changed; the replicator reads what the listings cannot tell, and decides.
      return verdict("sync", REASON.changedOnBothSides);
    case "confirm":
      return unchanged("in sync");
    case "skip":
      return decision.decision === "skipped_drift" ? verdict("conflict", REASON.drift) : unchanged(decision.detail);
    case "refuse":
      return verdict("conflict", REFUSAL_REASONS[decision.reason]);
  }
}

export interface UnclaimedFacts {
  destinationCloud: Cloud;
  replica: SideState;
  /** The first rule that covers the replica's origin and writes to this place; undefined if none. */
  rule: Rule | undefined;
  /** The origin secret showed up in its listing (active or deleted). */
  sourceListed: boolean;
  /** The origin's account/region or vault was listed completely by this cell. */
  sourcePlaceListed: boolean;
}

/**
 * A destination secret that no listed source maps to. A managed replica whose source no rule
 * covers (or maps elsewhere) is an orphan: reported, never touched. One whose source is in scope
 * but missing from a complete listing of its place is gone: soft-deleted like a deleted source.
 */
export function decideUnclaimed(facts: UnclaimedFacts): Verdict {
  const owner = facts.replica.owner;
  if (facts.replica.state !== "active" || !owner) return unchanged("not an active managed replica");
  if (owner.cloud === facts.destinationCloud) return unchanged("the secret's provenance names this cloud");
  if (!facts.rule) return verdict("orphan", REASON.noRule);
  if (facts.sourceListed) return verdict("orphan", REASON.notMappedName);
  if (!facts.sourcePlaceListed) return { kind: "unverifiable", why: "the source's account or vault is not listed by this cell" };
  if (facts.rule.onDelete === "ignore") return unchanged("the rule keeps replicas of deleted secrets");
  return verdict("delete", REASON.sourceGone);
}

function unchanged(why: string): Verdict {
  return { kind: "unchanged", why };
}

function verdict(kind: "sync" | "delete" | "conflict" | "orphan", reason: Reason): Verdict {
  return { kind, reason };
}
