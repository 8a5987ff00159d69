import { createHash } from "node:crypto";
import type { Cloud } from "@credmesh/bus-names";
import type { WriteStamp } from "@credmesh/vault";

/**
 * What credmesh records with every version it writes, in the vault's write stamp (Secrets Manager:
 * the version id; Key Vault: a version tag): which origin version it copies, when the origin
 * created it, and which mutation wrote it. One read of a replica's current version then tells
 * whether credmesh wrote it (a stamp decodes), what it copies (deduplication, monotonicity, echo
 * prevention) and whether this very mutation wrote it (a redelivery after a lost response audits
 * its write as `applied` instead of skipping it). See README "Ownership, monotonicity and ordering".
 *
 * Layout: `cm1-<a|z>-<created, 8 hex of unix seconds>-<mutation, 16 hex>-<origin version>`, at most
 * 64 characters for a Key Vault origin (32 hex digits), as Secrets Manager's ClientRequestToken
 * requires (32–64).
 */
export interface Stamp {
  /** The cloud the copied version comes from. */
  originCloud: Cloud;
  /** The origin's version id. */
  originVersion: string;
  /** When the origin created that version, whole seconds. */
  originCreatedAt?: Date | undefined;
  /** {@link mutationDigest} of the mutation event that wrote the version. */
  mutation: string;
}

const PREFIX = "cm1";
const CLOUD_LETTER: Readonly<Record<Cloud, string>> = { aws: "a", azure: "z" };
const STAMP = /^cm1-([az])-([0-9a-f]{8})-([0-9a-f]{16})-(.+)$/;

/** A short, stable digest of a mutation event id: the same event (any delivery) gives the same digest. */
export function mutationDigest(eventId: string): string {
  return createHash("sha256").update(eventId).digest("hex").slice(0, 16);
}

export function encodeStamp(stamp: Stamp): WriteStamp {
  const seconds = stamp.originCreatedAt === undefined ? 0 : Math.max(0, Math.floor(stamp.originCreatedAt.getTime() / 1000));
  const created = Math.min(seconds, 0xffffffff).toString(16).padStart(8, "0");
  return `${PREFIX}-${CLOUD_LETTER[stamp.originCloud]}-${created}-${stamp.mutation}-${stamp.originVersion}`;
}

/** The stamp credmesh wrote, or undefined for anything else (a person's version id, no stamp). */
export function decodeStamp(text: string | undefined): Stamp | undefined {
  const match = text === undefined ? null : STAMP.exec(text);
  if (!match) return undefined;
  const [, letter, created, mutation, originVersion] = match as unknown as [string, string, string, string, string];
  const seconds = Number.parseInt(created, 16);
  return {
    originCloud: letter === "a" ? "aws" : "azure",
    originVersion,
    originCreatedAt: seconds > 0 ? new Date(seconds * 1000) : undefined,
    mutation,
  };
}
