import type { Rule } from "@credmesh/config";
import type { Cloud } from "@credmesh/bus-names";
import type { ListedSecret } from "@credmesh/vault";
import { readProvenance, sameOrigin, type OriginRef, type ReadProvenance } from "@credmesh/replicas";
import { REASON, type Reason } from "./report.ts";

/**
 * The reconciler's decisions, as pure functions of what the listings show. They read provenance
 * exactly as the converge path does (converge/sides.ts) and publish only what the replicator
 * would act on, so a run over converged vaults finds nothing to do, and the replicator, which
 * re-reads both sides when the mutation arrives, stays the one place that writes.
 * @see ../../../../README.md#anti-entropy
 */

/** One side of a pair as a listing shows it, read like converge/sides.ts reads a side. */
export interface ListedSide {
  state: "absent" | "active" | "deleted";
  /** The version currently served, when known (Secrets Manager listings; resolved for Key Vault). */
  currentVersionId?: string;
  /**
   * Where this secret came from: the provenance of its current version, or in Key Vault of its
   * newest tagged version when someone wrote an untagged one since.
   */
  origin?: OriginRef;
  /** The origin version credmesh last copied into it. */
  copiedVersion?: string;
  /**
   * The provenance of the listed tags alone (Secrets Manager: the secret's; Key Vault: the
   * current version's) — what the replicator's delete path checks before deleting.
   */
  owner?: OriginRef;
  /** The current version is credmesh's copy, not a change someone made on this side. */
  writtenByCredmesh: boolean;
}

export const ABSENT: ListedSide = { state: "absent", writtenByCredmesh: false };

/** What Key Vault's version metadata adds to an entry whose current version carries no provenance. */
export interface ResolvedVersions {
  currentVersionId?: string;
  /** Provenance of the newest tagged version. */
  earlier?: ReadProvenance;
}

/**
 * A listed secret read as a side. Secrets Manager keeps tags per secret: the current version is
 * credmesh's copy when its id is the copied origin version (credmesh writes with that id as
 * ClientRequestToken). Key Vault keeps tags per version: the current version is credmesh's when it
 * carries them; otherwise the newest tagged version (`resolved`) still tells whose replica it is.
 */
export function listedSide(cloud: Cloud, entry: ListedSecret | undefined, resolved?: ResolvedVersions): ListedSide {
  if (!entry) return ABSENT;
  const own = readProvenance(entry.tags);
  const provenance = own
    ? { origin: own.origin, owner: own.origin, ...(own.version ? { copiedVersion: own.version } : {}) }
    : {};
  const current = entry.currentVersionId ?? resolved?.currentVersionId;
  if (entry.state === "deleted") return { state: "deleted", ...provenance, writtenByCredmesh: false };
  if (cloud === "aws") {
    return {
      state: "active",
      ...(current ? { currentVersionId: current } : {}),
      ...provenance,
      writtenByCredmesh: own !== undefined && own.version === current,
    };
  }
  if (own) return { state: "active", ...(current ? { currentVersionId: current } : {}), ...provenance, writtenByCredmesh: true };
  const earlier = resolved?.earlier;
  return {
    state: "active",
    ...(current ? { currentVersionId: current } : {}),
    ...(earlier ? { origin: earlier.origin } : {}),
    ...(earlier?.version ? { copiedVersion: earlier.version } : {}),
    writtenByCredmesh: false,
  };
}

export type Verdict =
  | { kind: "unchanged"; why: string }
  | { kind: "sync" | "delete" | "conflict" | "orphan"; reason: Reason }
  /** A replica whose source cannot be proven gone: the cell does not see the source's account. */
  | { kind: "unverifiable"; why: string };

export interface SourceFacts {
  rule: Rule;
  sourceRef: OriginRef;
  source: ListedSide;
  destination: ListedSide;
  /**
   * The destination secret is itself replicated back to the source's place by a rule (a
   * bidirectional pair): a change or deletion made to it is that direction's to carry.
   */
  pairCoveredBack: boolean;
}

/**
 * The verdict for one source secret in scope and the destination secret it maps to. Mirrors the
 * replicator's own decisions (converge/apply.ts, converge/policy.ts): a corrective mutation is
 * published only where the replicator would write or delete, and what it would refuse is reported
 * as a conflict instead of being dead-lettered on every run.
 */
export function decideSource(facts: SourceFacts): Verdict {
  const { rule, sourceRef, source, destination } = facts;
  const destinationCloud = rule.destination.cloud;
  /** The source is credmesh's replica of the destination secret (a bidirectional pair). */
  const pairedCopy = source.origin?.cloud === destinationCloud;
  const ours = destination.origin !== undefined && sameOrigin(destination.origin, sourceRef);

  if (source.state === "deleted") {
    if (rule.onDelete === "ignore") return unchanged("the rule keeps replicas of deleted secrets");
    if (destination.state !== "active") return unchanged(`the replica is ${destination.state}`);
    if (destination.owner && sameOrigin(destination.owner, sourceRef)) return verdict("delete", REASON.sourceDeleted);
    if (pairedCopy) return unchanged("the deleted secret was a copy of the destination secret; deleting a copy never deletes the original");
    if (ours) return verdict("conflict", REASON.changedInDestination);
    return verdict("conflict", destination.owner ? REASON.nameCollision : REASON.unmanagedDestination);
  }
  if (source.state !== "active") return unchanged("the source does not exist");
  if (source.writtenByCredmesh && pairedCopy) return unchanged("the source is credmesh's copy of the destination secret (echo)");

  if (destination.state !== "active") {
    // Deleted in a bidirectional pair: the other direction deletes this copy (its replicator deletes
    // a secret whose provenance names the deleted one), so resurrecting the original would fight it.
    if (facts.pairCoveredBack && source.owner?.cloud === destinationCloud) {
      return unchanged("the destination secret was deleted; its deletion replicates to this copy");
    }
    if (destination.state === "absent") return verdict("sync", REASON.missing);
    if (!ours && !pairedCopy) {
      if (destination.origin) return verdict("conflict", REASON.nameCollision);
      if (!rule.adoptUnmanaged) return verdict("conflict", REASON.unmanagedDestination);
    }
    if (rule.onDeletedDestination === "fail") return verdict("conflict", REASON.recoveryForbidden);
    return verdict("sync", REASON.replicaDeleted);
  }

  if (ours) {
    if (destination.writtenByCredmesh) {
      return destination.copiedVersion === source.currentVersionId ? unchanged("in sync") : verdict("sync", REASON.stale);
    }
    // Someone wrote the replica after credmesh's copy.
    if (destination.copiedVersion !== source.currentVersionId) return verdict("sync", REASON.changedOnBothSides);
    return facts.pairCoveredBack
      ? unchanged("changed in the destination; that change replicates the other way")
      : verdict("conflict", REASON.changedInDestination);
  }
  if (pairedCopy) return verdict("sync", REASON.pairChanged);
  if (destination.origin) return verdict("conflict", REASON.nameCollision);
  return rule.adoptUnmanaged ? verdict("sync", REASON.adoptUnmanaged) : verdict("conflict", REASON.unmanagedDestination);
}

export interface UnclaimedFacts {
  destinationCloud: Cloud;
  replica: ListedSide;
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
