import { createHmac } from "node:crypto";
import type { AwsOrigin } from "@credmesh/events";
import type { Sensitive } from "@credmesh/logging";
import { TAG_VALUE_MAX, joinTagValue, splitTagValue } from "@credmesh/naming";

/**
 * Provenance tags credmesh writes on every replica (SPEC section 2): who owns it, where it came
 * from, which origin version it holds and a keyed hash of its content. They make ownership
 * explicit, deduplication cheap, collisions detectable and the original name recoverable.
 * Key Vault allows 15 tags of at most 256 characters; this set uses at most 11.
 * @see ../../../README.md#provenance-tags
 */
export const TAG = {
  managedBy: "managed-by",
  origin: "credmesh-origin",
  originAccount: "credmesh-origin-account",
  originRegion: "credmesh-origin-region",
  originName: "credmesh-origin-name",
  originId: "credmesh-origin-id",
  originVersion: "credmesh-origin-version",
  contentHash: "credmesh-content-hash",
  rule: "credmesh-rule",
  replicatedAt: "credmesh-replicated-at",
} as const;

export const MANAGED_BY = "credmesh";

export interface AwsProvenance {
  origin: AwsOrigin;
  originName: string;
  originArn: string | undefined;
  originVersion: string;
  contentHash: string;
  rule: string;
  replicatedAt: Date;
}

export function provenanceTags(p: AwsProvenance): Record<string, string> {
  return {
    [TAG.managedBy]: MANAGED_BY,
    [TAG.origin]: "aws",
    [TAG.originAccount]: p.origin.account,
    [TAG.originRegion]: p.origin.region,
    ...splitTagValue(TAG.originName, p.originName),
    ...(p.originArn && p.originArn.length <= TAG_VALUE_MAX ? { [TAG.originId]: p.originArn } : {}),
    [TAG.originVersion]: p.originVersion,
    [TAG.contentHash]: p.contentHash,
    [TAG.rule]: p.rule,
    [TAG.replicatedAt]: p.replicatedAt.toISOString(),
  };
}

export function isManaged(tags: Readonly<Record<string, string>>): boolean {
  return tags[TAG.managedBy] === MANAGED_BY;
}

/** Whether a managed replica belongs to this AWS secret (same account, region and full name). */
export function belongsTo(tags: Readonly<Record<string, string>>, origin: AwsOrigin, originName: string): boolean {
  return (
    tags[TAG.origin] === "aws" &&
    tags[TAG.originAccount] === origin.account &&
    tags[TAG.originRegion] === origin.region &&
    joinTagValue(TAG.originName, tags) === originName
  );
}

/** The original name of a replica, recovered from its tags. */
export function originalName(tags: Readonly<Record<string, string>>): string | undefined {
  return joinTagValue(TAG.originName, tags);
}

/**
 * HMAC-SHA256 of the value under the deployment's hash key. A plain hash in a tag would let
 * anyone who can list tags test guesses of a weak password; a keyed one does not.
 */
export function contentHash(key: Sensitive<string>, value: Sensitive<string>): string {
  return createHmac("sha256", key.reveal()).update(value.reveal(), "utf8").digest("hex");
}
