import { createHmac } from "node:crypto";
import type { Sensitive } from "@credmesh/logging";
import { TAG_VALUE_MAX, joinTagValue, splitTagValue } from "./tag-chunks.ts";

/**
 * Provenance tags credmesh writes on every replica, in both clouds (SPEC section 2): who owns it,
 * where it came from, which origin version it holds and a keyed hash of its content. They make
 * ownership explicit, deduplication cheap, echoes and collisions detectable and the original
 * name recoverable. Key Vault keeps tags per version, Secrets Manager per secret.
 * Key Vault allows 15 tags of at most 256 characters; this set uses at most 11.
 * @see ../../../README.md#provenance-tags
 */
export const TAG = {
  managedBy: "managed-by",
  origin: "credmesh-origin",
  originAccount: "credmesh-origin-account",
  originRegion: "credmesh-origin-region",
  originVault: "credmesh-origin-vault",
  originName: "credmesh-origin-name",
  originId: "credmesh-origin-id",
  originVersion: "credmesh-origin-version",
  originCreated: "credmesh-origin-created",
  contentHash: "credmesh-content-hash",
  rule: "credmesh-rule",
  replicatedAt: "credmesh-replicated-at",
} as const;

export const MANAGED_BY = "credmesh";

/** The identity of a secret at its origin: stable across versions and re-creations. */
export type OriginRef =
  | { cloud: "aws"; account: string; region: string; name: string; arn?: string | undefined }
  | { cloud: "azure"; vault: string; name: string };

export interface Provenance {
  origin: OriginRef;
  /** The origin version the replica holds. */
  version: string;
  /** When the origin created that version: the monotonic guard compares it. */
  versionCreatedAt?: Date | undefined;
  contentHash: string;
  rule: string;
  replicatedAt: Date;
}

export function provenanceTags(p: Provenance): Record<string, string> {
  const origin: Record<string, string> =
    p.origin.cloud === "aws"
      ? {
          [TAG.origin]: "aws",
          [TAG.originAccount]: p.origin.account,
          [TAG.originRegion]: p.origin.region,
          ...splitTagValue(TAG.originName, p.origin.name),
          ...(p.origin.arn && p.origin.arn.length <= TAG_VALUE_MAX ? { [TAG.originId]: p.origin.arn } : {}),
        }
      : { [TAG.origin]: "azure", [TAG.originVault]: p.origin.vault.toLowerCase(), [TAG.originName]: p.origin.name };
  return {
    [TAG.managedBy]: MANAGED_BY,
    ...origin,
    [TAG.originVersion]: p.version,
    ...(p.versionCreatedAt ? { [TAG.originCreated]: p.versionCreatedAt.toISOString() } : {}),
    [TAG.contentHash]: p.contentHash,
    [TAG.rule]: p.rule,
    [TAG.replicatedAt]: p.replicatedAt.toISOString(),
  };
}

/** What a secret's tags say about where it came from; undefined when credmesh does not manage it. */
export interface ReadProvenance {
  origin: OriginRef;
  version: string | undefined;
  versionCreatedAt: Date | undefined;
}

export function readProvenance(tags: Readonly<Record<string, string>>): ReadProvenance | undefined {
  if (tags[TAG.managedBy] !== MANAGED_BY) return undefined;
  const name = joinTagValue(TAG.originName, tags);
  const version = tags[TAG.originVersion];
  const createdTag = tags[TAG.originCreated];
  const created = createdTag ? new Date(createdTag) : undefined;
  const versionCreatedAt = created && !Number.isNaN(created.getTime()) ? created : undefined;
  if (name === undefined) return undefined;
  const account = tags[TAG.originAccount];
  const region = tags[TAG.originRegion];
  const vault = tags[TAG.originVault];
  if (tags[TAG.origin] === "aws" && account && region) {
    return { origin: { cloud: "aws", account, region, name, arn: tags[TAG.originId] }, version, versionCreatedAt };
  }
  if (tags[TAG.origin] === "azure" && vault) {
    return { origin: { cloud: "azure", vault, name }, version, versionCreatedAt };
  }
  return undefined;
}

/** Same secret at its origin. Key Vault names and vault names compare case-insensitively. */
export function sameOrigin(a: OriginRef, b: OriginRef): boolean {
  if (a.cloud === "aws" && b.cloud === "aws") return a.account === b.account && a.region === b.region && a.name === b.name;
  if (a.cloud === "azure" && b.cloud === "azure") {
    return a.vault.toLowerCase() === b.vault.toLowerCase() && a.name.toLowerCase() === b.name.toLowerCase();
  }
  return false;
}

/**
 * HMAC-SHA256 of the value under the deployment's hash key. A plain hash in a tag would let
 * anyone who can list tags test guesses of a weak password; a keyed one does not.
 */
export function contentHash(key: Sensitive<string>, value: Sensitive<string>): string {
  return createHmac("sha256", key.reveal()).update(value.reveal(), "utf8").digest("hex");
}
