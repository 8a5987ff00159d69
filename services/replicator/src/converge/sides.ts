import type { Cloud } from "@credmesh/bus-names";
import type { Sensitive } from "@credmesh/logging";
import { readProvenance, type OriginRef } from "@credmesh/replicas";
import type { SecretDescription, VaultContext, VaultPort, VersionInfo } from "@credmesh/vault";
import { decodeStamp } from "./stamp.ts";

/**
 * What credmesh knows of one side of a pair — a source or a destination secret — as one pure
 * reading of what the vault told: its state, its current version (with the value when it was a
 * value read), and what provenance tags and write stamps say about it. The mutation path and the
 * reconciler build it with the same function ({@link sideOf}) from a read or from a listing.
 */
export interface SideState {
  state: "absent" | "active" | "deleted";
  current?: {
    versionId: string;
    createdAt?: Date | undefined;
    /** Only on value reads (a source). */
    value?: Sensitive<string>;
    encoding?: "utf8" | "base64";
    contentType?: string | undefined;
  };
  /** The tags as read (the secret's, or its current version's); undefined when they were not read. */
  tags?: Readonly<Record<string, string>>;
  /**
   * Where this secret came from: the provenance of its tags, or in a vault that tags versions of
   * its newest tagged version when someone wrote an untagged one since.
   */
  origin?: OriginRef;
  /** The cloud the current version was copied from, when credmesh wrote it (known from the stamp alone). */
  originCloud?: Cloud;
  /** The provenance of the read tags alone: what the delete path checks before deleting. */
  owner?: OriginRef;
  /** The origin version credmesh last copied into it, and when the origin created it. */
  copiedVersion?: string;
  copiedVersionCreatedAt?: Date;
  /** The current version is credmesh's copy (it carries credmesh's write stamp). */
  writtenByCredmesh: boolean;
  /** The mutation (its digest) that wrote the current version, when credmesh did. */
  writtenBy?: string;
  /** The current version's write stamp as read, if it had one. */
  stamp?: string;
}

export const ABSENT: SideState = { state: "absent", writtenByCredmesh: false };

/** The facts one read (or one listing entry) gives about a side. */
export interface SideFacts {
  state: "absent" | "active" | "deleted";
  versionId?: string | undefined;
  /** Creation of the current version, when known. */
  createdAt?: Date | undefined;
  stamp?: string | undefined;
  /** Tags as read; undefined when not read (a Secrets Manager value read). */
  tags?: Readonly<Record<string, string>> | undefined;
  /** The vault keeps tags per version (then `tags` are the current version's). */
  tagsPerVersion: boolean;
  /** Recent versions' metadata, newest first, when they were read. */
  earlier?: readonly VersionInfo[] | undefined;
}

/** Reads a side from what the vault told; pure. */
export function sideOf(facts: SideFacts): SideState {
  if (facts.state === "absent") return ABSENT;
  const stamp = decodeStamp(facts.stamp);
  const own = facts.tags ? readProvenance(facts.tags) : undefined;
  const tags = facts.tags ? { tags: facts.tags } : {};
  const owner = own ? { owner: own.origin } : {};
  if (facts.state === "deleted") {
    const copied = stamp?.originVersion ?? (facts.tagsPerVersion ? own?.version : undefined);
    return { state: "deleted", ...tags, ...(own ? { origin: own.origin } : {}), ...owner, ...(copied ? { copiedVersion: copied } : {}), writtenByCredmesh: false };
  }
  // Where tags are per version, the current version's own tags tell its origin version at full
  // precision; per-secret tags would describe whichever version was tagged last.
  const versionTags = facts.tagsPerVersion && stamp ? own : undefined;
  const earlier = newestProvenance(facts.earlier, stamp ? undefined : facts.versionId);
  const origin = own?.origin ?? earlier?.origin;
  const copiedVersion = stamp?.originVersion ?? earlier?.version;
  const copiedAt = versionTags?.versionCreatedAt ?? stamp?.originCreatedAt ?? earlier?.versionCreatedAt;
  return {
    state: "active",
    ...(facts.versionId ? { current: { versionId: facts.versionId, createdAt: facts.createdAt } } : {}),
    ...tags,
    ...(origin ? { origin } : {}),
    ...(stamp ? { originCloud: stamp.originCloud } : origin ? { originCloud: origin.cloud } : {}),
    ...owner,
    ...(copiedVersion ? { copiedVersion } : {}),
    ...(copiedAt ? { copiedVersionCreatedAt: copiedAt } : {}),
    writtenByCredmesh: stamp !== undefined,
    ...(stamp ? { writtenBy: stamp.mutation } : {}),
    ...(facts.stamp ? { stamp: facts.stamp } : {}),
  };
}

/** The newest version that credmesh wrote, the current one aside: its provenance (tags) or, without tags, its stamp. */
function newestProvenance(versions: readonly VersionInfo[] | undefined, current?: string): { origin?: OriginRef; version?: string; versionCreatedAt?: Date } | undefined {
  for (const version of versions ?? []) {
    if (version.versionId === current) continue;
    const tagged = readProvenance(version.tags);
    if (tagged) {
      return { origin: tagged.origin, ...(tagged.version ? { version: tagged.version } : {}), ...(tagged.versionCreatedAt ? { versionCreatedAt: tagged.versionCreatedAt } : {}) };
    }
    const stamp = decodeStamp(version.stamp);
    if (stamp) return { version: stamp.originVersion, ...(stamp.originCreatedAt ? { versionCreatedAt: stamp.originCreatedAt } : {}) };
  }
  return undefined;
}

export type Retry = <T>(operation: () => Promise<T>) => Promise<T>;

/** One value read of a source: its current version with the value, or its state. */
export async function readSource(vault: VaultPort, name: string, ctx: VaultContext, retry: Retry): Promise<SideState> {
  const read = await retry(() => vault.read(name, ctx));
  if (read.state === "absent") return ABSENT;
  if (read.state === "deleted") return sideOfDescription(vault, read.description);
  const version = read.version;
  const side = sideOf({
    state: "active",
    versionId: version.versionId,
    createdAt: version.createdAt,
    stamp: version.stamp,
    tags: vault.tagsPerVersion ? version.tags : undefined,
    tagsPerVersion: vault.tagsPerVersion,
  });
  return {
    ...side,
    current: { versionId: version.versionId, createdAt: version.createdAt, value: version.value, encoding: version.encoding, contentType: version.contentType },
  };
}

/**
 * A value-free look at a destination (Key Vault drops the value it cannot help reading). `forWrite`:
 * a soft-deleted secret may read as absent where telling it costs a second request; the write then
 * fails `deleted_in_destination`, and the writer looks again in full.
 */
export async function readDestination(vault: VaultPort, name: string, ctx: VaultContext, retry: Retry, options: { forWrite?: boolean } = {}): Promise<SideState> {
  return sideOfDescription(vault, await retry(() => vault.describe(name, ctx, options.forWrite ? { deletedLookup: false } : {})));
}

export function sideOfDescription(vault: Pick<VaultPort, "tagsPerVersion">, description: SecretDescription): SideState {
  return sideOf({
    state: description.state,
    versionId: description.currentVersionId,
    createdAt: description.currentCreatedAt,
    stamp: description.currentStamp,
    tags: description.tags,
    tagsPerVersion: vault.tagsPerVersion,
  });
}

/**
 * What a side's first read could not tell, read now: the tags of a secret whose vault keeps tags
 * per secret, and — for a current version without provenance, or when `history` is asked for —
 * the recent versions (whose replica it is; which version credmesh last wrote into it). One call
 * each, made only where ownership, a pair or a conflict cannot be known otherwise.
 */
export async function completeSide(vault: VaultPort, name: string, side: SideState, ctx: VaultContext, retry: Retry, options: { history?: boolean } = {}): Promise<SideState> {
  if (side.state !== "active") return side;
  let tags = side.tags;
  let stamp = side.stamp;
  if (tags === undefined) {
    const described = await retry(() => vault.describe(name, ctx));
    tags = described.tags;
    stamp ??= described.currentStamp;
  }
  const needVersions = options.history === true || (readProvenance(tags) === undefined && vault.tagsPerVersion);
  const earlier = needVersions ? await retry(() => vault.versions(name, ctx, 25)) : undefined;
  const completed = sideOf({
    state: side.state,
    versionId: side.current?.versionId,
    createdAt: side.current?.createdAt,
    stamp,
    tags,
    tagsPerVersion: vault.tagsPerVersion,
    earlier,
  });
  return { ...completed, ...(side.current ? { current: side.current } : {}) };
}

/** Whether `completeSide` would read anything. */
export function incomplete(vault: Pick<VaultPort, "tagsPerVersion">, side: SideState): boolean {
  return side.state === "active" && (side.tags === undefined || (!side.owner && vault.tagsPerVersion && side.origin === undefined));
}
