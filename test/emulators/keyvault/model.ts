/**
 * The emulator's in-memory records of secrets, and the limits Key Vault enforces on them.
 *
 * @see FORMATS.md §E (shared/FORMATS.md) for the limits and where they come from.
 */

/** Secret names: 1–127 letters, digits and dashes (FORMATS.md §E, secrets.json 7.5 path pattern). */
export const SECRET_NAME_PATTERN = /^[0-9a-zA-Z-]{1,127}$/;
/** Largest value Key Vault accepts, in UTF-8 bytes ("25k bytes"; the CLI quotes 25600). */
export const MAX_VALUE_BYTES = 25_600;
/** Key Vault allows at most 15 tags; the 16th is a 400 BadParameter. */
export const MAX_TAGS = 15;
/** Docs disagree (512 vs 256); FORMATS.md §E caps at the stricter 256 so nothing passes here and fails in Azure. */
export const MAX_TAG_LENGTH = 256;
/** `contentType` is free text up to 255 characters. */
export const MAX_CONTENT_TYPE_LENGTH = 255;
/** Key Vault pages lists 25 at a time and rejects a larger `maxresults`. */
export const MAX_PAGE_SIZE = 25;

/** One version of a secret. Times are Key Vault IntDates (Unix seconds). */
export interface SecretVersionRecord {
  /** 32 lowercase hex characters, as Key Vault mints them. */
  readonly version: string;
  /** Creation order, used to page versions stably. */
  readonly sequence: number;
  readonly value: string;
  contentType: string | undefined;
  tags: Record<string, string> | undefined;
  enabled: boolean;
  nbf: number | undefined;
  exp: number | undefined;
  readonly created: number;
  updated: number;
}

/** A secret with all its versions, keyed in the store by its lowercased name. */
export interface SecretRecord {
  /** The name as first created; Key Vault keeps that spelling while matching case-insensitively. */
  readonly name: string;
  /** Oldest first; the last one is the current version. */
  readonly versions: SecretVersionRecord[];
  /** Epoch ms before which a recovered secret still reads as missing (0 when not recovering). */
  readableAtMs: number;
  /** Epoch ms before which a recovered secret refuses writes (409 ObjectIsBeingRecovered); ≥ readableAtMs. */
  writableAtMs: number;
}

/** A soft-deleted secret. */
export interface DeletedSecretRecord {
  readonly secret: SecretRecord;
  /** Unix seconds. */
  readonly deletedDate: number;
  /** Unix seconds; the record is dropped after this. */
  readonly scheduledPurgeDate: number;
  /** Epoch ms when the delete finishes and the record shows under /deletedsecrets. */
  readonly visibleAtMs: number;
}

/** The fields a caller may set on a version (PUT and PATCH). */
export interface SecretVersionInput {
  readonly contentType?: string | undefined;
  readonly tags?: Record<string, string> | undefined;
  readonly enabled?: boolean | undefined;
  readonly nbf?: number | undefined;
  readonly exp?: number | undefined;
}

/** The body of `PUT /secrets/{name}`. */
export interface SetSecretInput extends SecretVersionInput {
  readonly value: string;
}

/** The current version of a secret: Key Vault's "latest" is simply the newest. */
export function currentVersion(secret: SecretRecord): SecretVersionRecord {
  const latest = secret.versions.at(-1);
  if (latest === undefined) throw new Error(`secret ${secret.name} has no versions`);
  return latest;
}
