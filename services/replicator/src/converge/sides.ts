import { CredmeshError } from "@credmesh/errors";
import type { SecretVersion, VaultContext, VaultPort } from "@credmesh/vault";
import { readProvenance, type OriginRef } from "@credmesh/replicas";

/**
 * What credmesh knows of one side's current state: the current version (value included, held as
 * Sensitive), and what the provenance tags say about it.
 */
export interface SideState {
  state: "absent" | "active" | "deleted";
  current?: SecretVersion;
  /** Where this secret came from, per the provenance of its current (or, in Key Vault, latest tagged) version. */
  origin?: OriginRef;
  /** The origin version the latest credmesh write copied, and when the origin created it. */
  copiedVersion?: string;
  copiedVersionCreatedAt?: Date;
  /** The current version is credmesh's own copy (not a change someone made on this side). */
  writtenByCredmesh: boolean;
}

export type Retry = <T>(operation: () => Promise<T>) => Promise<T>;

/**
 * Reads one side. Secrets Manager keeps tags per secret: the current version is credmesh's copy
 * when its version id is the origin version credmesh wrote (the Key Vault version id is the
 * ClientRequestToken, hence the AWS version id). Key Vault keeps tags per version: the current
 * version is credmesh's when it carries the tags; otherwise the newest tagged version still tells
 * whose replica the secret is.
 */
export async function readSide(vault: VaultPort, name: string, ctx: VaultContext, retry: Retry): Promise<SideState> {
  let current: SecretVersion | undefined;
  try {
    current = await retry(() => vault.get(name, ctx));
  } catch (error) {
    // Secrets Manager answers InvalidRequestException for reads of a secret scheduled for
    // deletion (FORMATS.md F): DescribeSecret tells that apart without reading the message.
    if (!(error instanceof CredmeshError) || error.code !== "InvalidRequestException") throw error;
    const described = await retry(() => vault.describe(name, ctx));
    if (described.state !== "deleted") throw error;
    return deletedState(described.tags);
  }
  if (!current) {
    const described = await retry(() => vault.describe(name, ctx));
    return described.state === "deleted" ? deletedState(described.tags) : { state: "absent", writtenByCredmesh: false };
  }
  if (vault.cloud === "aws") {
    const described = await retry(() => vault.describe(name, ctx));
    const provenance = readProvenance(described.tags);
    return {
      state: "active",
      current: { ...current, tags: described.tags },
      ...(provenance ? { origin: provenance.origin } : {}),
      ...(provenance?.version ? { copiedVersion: provenance.version } : {}),
      ...(provenance?.versionCreatedAt ? { copiedVersionCreatedAt: provenance.versionCreatedAt } : {}),
      writtenByCredmesh: provenance !== undefined && provenance.version === current.versionId,
    };
  }
  const own = readProvenance(current.tags);
  if (own) {
    return {
      state: "active",
      current,
      origin: own.origin,
      ...(own.version ? { copiedVersion: own.version } : {}),
      ...(own.versionCreatedAt ? { copiedVersionCreatedAt: own.versionCreatedAt } : {}),
      writtenByCredmesh: true,
    };
  }
  const tagged = vault.versions ? (await retry(() => vault.versions!(name, ctx, 25))).find((v) => readProvenance(v.tags)) : undefined;
  const earlier = tagged ? readProvenance(tagged.tags) : undefined;
  return {
    state: "active",
    current,
    ...(earlier ? { origin: earlier.origin } : {}),
    ...(earlier?.version ? { copiedVersion: earlier.version } : {}),
    ...(earlier?.versionCreatedAt ? { copiedVersionCreatedAt: earlier.versionCreatedAt } : {}),
    writtenByCredmesh: false,
  };
}

function deletedState(tags: Readonly<Record<string, string>>): SideState {
  const provenance = readProvenance(tags);
  return {
    state: "deleted",
    ...(provenance ? { origin: provenance.origin } : {}),
    ...(provenance?.version ? { copiedVersion: provenance.version } : {}),
    writtenByCredmesh: false,
  };
}
