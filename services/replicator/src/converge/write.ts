import type { Rule } from "@credmesh/config";
import { BINARY_CONTENT_TYPE, type VaultContext, type VaultPort } from "@credmesh/vault";
import { TAG, contentHash, provenanceTags, type OriginRef } from "@credmesh/replicas";
import type { ConvergeDeps } from "./apply.ts";
import type { Retry, SideState } from "./sides.ts";
import { decodeStamp, encodeStamp } from "./stamp.ts";

/** Where a mutation writes: the destination vault's label and the secret's name there. */
export interface Target {
  vault: string;
  name: string;
}

/** Provenance tags that describe one version (the rest describe the secret). */
const VERSION_TAGS: ReadonlySet<string> = new Set([TAG.originVersion, TAG.originCreated, TAG.contentHash, TAG.replicatedAt]);

interface WriteContext {
  rule: Rule;
  sourceRef: OriginRef;
  destination: VaultPort;
  digest: string;
  deps: Pick<ConvergeDeps, "contentHashKey" | "now">;
  ctx: VaultContext;
  retry: Retry;
}

/**
 * Writes the source's current version to the destination with its provenance: the secret's
 * identity as tags, the version's facts as version tags (where the vault keeps them) and the write
 * stamp (origin version, its creation, this mutation). A retried attempt first looks whether the
 * failed one wrote and only lost its answer, so a lost response never becomes a second version.
 */
export async function writeReplica(
  m: WriteContext,
  target: Target,
  current: NonNullable<SideState["current"]>,
  destination: SideState,
): Promise<{ versionId: string }> {
  const { ctx, retry } = m;
  const value = current.value;
  if (!value) throw new Error("a write needs the source's value");
  const all = provenanceTags({
    origin: m.sourceRef,
    version: current.versionId,
    versionCreatedAt: current.createdAt,
    contentHash: contentHash(m.deps.contentHashKey, value),
    rule: m.rule.id,
    replicatedAt: (m.deps.now ?? (() => new Date()))(),
  });
  const tags = Object.fromEntries(Object.entries(all).filter(([key]) => !VERSION_TAGS.has(key)));
  const versionTags = Object.fromEntries(Object.entries(all).filter(([key]) => VERSION_TAGS.has(key)));
  const stamp = encodeStamp({ originCloud: m.sourceRef.cloud, originVersion: current.versionId, originCreatedAt: current.createdAt, mutation: m.digest });
  const binary = current.encoding === "base64";
  let attempts = 0;
  return retry(async () => {
    if (attempts++ > 0) {
      // A failed attempt may have written and only lost its answer (a reset, a timeout).
      const seen = await m.destination.describe(target.name, ctx);
      if (seen.state === "active" && seen.currentStamp === stamp && seen.currentVersionId) return { versionId: seen.currentVersionId };
    }
    return m.destination.put(
      target.name,
      value,
      {
        tags,
        versionTags,
        stamp,
        ...(destination.state === "active" && destination.tags ? { existing: { tags: destination.tags } } : {}),
        ...(binary ? { contentType: BINARY_CONTENT_TYPE, encoding: "base64" as const } : {}),
      },
      ctx,
    );
  });
}

/**
 * The destination's recent version this mutation wrote, if any: after a lost response, a
 * redelivery finds its own write here even when another version has been written on top.
 */
export async function confirmOwnWrite(
  vault: VaultPort,
  name: string,
  digest: string,
  ctx: VaultContext,
  retry: Retry,
): Promise<{ versionId: string; originVersion: string } | undefined> {
  for (const version of await retry(() => vault.versions(name, ctx, 25))) {
    const stamp = decodeStamp(version.stamp);
    if (stamp?.mutation === digest) return { versionId: version.versionId, originVersion: stamp.originVersion };
  }
  return undefined;
}
