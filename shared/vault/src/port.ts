import type { Logger, Sensitive } from "@credmesh/logging";

/**
 * The narrow port every vault adapter implements: read / get / describe / put / delete / restore /
 * versions / list, each with a context that carries a deadline signal and a logger. Cloud quirks
 * (Key Vault soft delete and recovery, where each cloud keeps tags, Secrets Manager's recovery
 * window, ClientRequestToken and its answer for a secret scheduled for deletion) stay inside the
 * adapters: code above the port never asks which cloud it talks to.
 * @see ../../../shared/STYLE.md "Ports and adapters for the clouds"
 */
export interface VaultContext {
  logger: Logger;
  /** Aborts every call and wait of the operation (its deadline, a lost lease). */
  signal?: AbortSignal;
  /**
   * Paces the page requests of {@link VaultPort.list} and {@link VaultPort.versions}, whose number
   * only the adapter knows (Key Vault answers empty pages with a `nextLink`). Set by a rate limiter
   * (`RateLimitedVault`); every adapter awaits it just before each page request of those two
   * operations and settles the permit when the page answered, or releases it when no request was
   * made after all, so a paged operation costs one token per HTTP request, empty pages included.
   */
  pace?: (operation: PagedOperation) => Promise<PagePermit>;
}

/** The port operations whose cloud requests come in pages. */
export type PagedOperation = "list" | "versions";

/** Leave for one page request ({@link VaultContext.pace}). */
export interface PagePermit {
  /** The request answered (whatever the answer). */
  settle(): void;
  /** No request was made after all (the listing had already ended): the leave goes back unused. */
  release(): void;
}

/**
 * A write stamp: a short identifier of one write (32–64 characters of `[0-9a-z-]`) that the vault
 * keeps with the version it creates and hands back on every read of that version — the only
 * per-version fact both clouds can keep without an extra call. Secrets Manager keeps it as the
 * version id (the ClientRequestToken, which also makes a repeated write a no-op); Key Vault as a
 * tag of the version ({@link STAMP_TAG}).
 */
export type WriteStamp = string;

/** The Key Vault version tag that holds a {@link WriteStamp}. */
export const STAMP_TAG = "credmesh-stamp";

export interface SecretVersion {
  /** The name as the vault knows it. */
  name: string;
  versionId: string;
  value: Sensitive<string>;
  /** "binary/base64" when the value is base64 of binary data. */
  encoding: "utf8" | "base64";
  contentType?: string;
  /**
   * Tags of this version where the vault keeps tags per version (Key Vault); `{}` where it keeps
   * them per secret (Secrets Manager: ask {@link VaultPort.describe}).
   */
  tags: Readonly<Record<string, string>>;
  createdAt?: Date;
  /** The stamp this version was written with, where it has one (Secrets Manager: every version id is a candidate). */
  stamp?: WriteStamp;
}

/** A secret as one value read finds it: its current version, or why there is none. */
export type SecretRead =
  | { state: "absent" }
  | { state: "deleted"; description: SecretDescription }
  | { state: "active"; version: SecretVersion };

export type SecretState = "absent" | "active" | "deleted";

export interface SecretDescription {
  name: string;
  state: SecretState;
  /** The full identifier (ARN, Key Vault id) when the vault has one. */
  id?: string;
  /** The version currently served (AWSCURRENT; Key Vault's latest). */
  currentVersionId?: string;
  /** Tags of the secret (Secrets Manager) or of its current version (Key Vault). */
  tags: Readonly<Record<string, string>>;
  deletedAt?: Date;
  /** When the current version was created, where the vault tells it without a value read (Key Vault). */
  currentCreatedAt?: Date;
  /** The stamp the current version was written with, where it has one. */
  currentStamp?: WriteStamp;
}

export interface PutOptions {
  /** Tags that describe the secret (identity); kept per secret or per version, as the vault keeps tags. */
  tags: Readonly<Record<string, string>>;
  /**
   * Facts about this version only. Kept where the vault keeps tags per version (Key Vault);
   * dropped where tags are per secret (Secrets Manager), where they would describe the wrong
   * version after the next write — the stamp carries what must survive there.
   */
  versionTags?: Readonly<Record<string, string>>;
  /** Kept with the new version ({@link WriteStamp}); a repeated write with it is a no-op where the vault supports that. */
  stamp?: WriteStamp;
  /**
   * The secret as the caller just read it, when it exists. A vault that keeps tags per secret
   * then adds a version directly and rewrites tags only if `tags` differ from these; without it
   * the vault finds out itself (an extra call).
   */
  existing?: { tags: Readonly<Record<string, string>> };
  contentType?: string;
  encoding?: "utf8" | "base64";
}

export interface DeleteOptions {
  mode: "recoverable" | "force";
  recoveryWindowDays?: number;
}

/** What a delete did. */
export interface DeleteResult {
  /**
   * A force delete removed the secret for good (or found nothing left to remove). False for a
   * recoverable delete, and for a force delete in a vault that refuses purge (Key Vault purge
   * protection): the secret then stays soft-deleted until the vault's retention period ends.
   */
  purged: boolean;
}

/**
 * One secret as a listing shows it: identifiers, state and tags, never a value. Listings are how
 * anti-entropy compares whole vaults without reading what it does not need.
 */
export interface ListedSecret {
  /** The name as the vault knows it. */
  name: string;
  /** "deleted": deleted but recoverable (Secrets Manager: scheduled for deletion). */
  state: "active" | "deleted";
  /** The full identifier (ARN, versionless Key Vault id) when the vault reports one. */
  id?: string;
  /**
   * The version currently served, where the listing tells it (Secrets Manager: AWSCURRENT).
   * Key Vault listings do not: ask {@link VaultPort.versions} when it matters.
   */
  currentVersionId?: string;
  /** Tags of the secret (Secrets Manager) or of its current version (Key Vault). */
  tags: Readonly<Record<string, string>>;
  /** Creation of the secret (Secrets Manager) or of its current version (Key Vault). */
  createdAt?: Date;
  /** Creation of the current version, where the listing tells it (Key Vault). */
  currentCreatedAt?: Date;
  deletedAt?: Date;
  /** The stamp of the current version, where the listing tells it. */
  currentStamp?: WriteStamp;
  /**
   * A time the vault's own clock had reached when the listing served this entry (Key Vault: the
   * HTTP `Date` of the listing's first answer, whole seconds), where the adapter knows it.
   */
  servedAt?: Date;
}

export interface ListOptions {
  /** Only names that start with this; compared case-insensitively where names are (Key Vault). */
  namePrefix?: string;
  /** Also list deleted-but-recoverable secrets (default true). */
  includeDeleted?: boolean;
  /** Entries per page, capped at the cloud's maximum (Secrets Manager 100, Key Vault 25). */
  pageSize?: number;
}

/** A version's metadata, without its value. */
export interface VersionInfo {
  versionId: string;
  createdAt?: Date;
  /** Tags of the version where the vault keeps tags per version; `{}` otherwise. */
  tags: Readonly<Record<string, string>>;
  stamp?: WriteStamp;
}

export interface VaultPort {
  /** For labels, limits and metrics only; code above the port never branches on it. */
  readonly cloud: "aws" | "azure";
  /**
   * Whether tags belong to each version (Key Vault: a read of the value also tells its tags) or
   * to the secret (Secrets Manager: tags take a {@link describe}, and a version read returns `{}`).
   */
  readonly tagsPerVersion: boolean;
  /**
   * The current version with its value — one value read — or the secret's state when there is
   * none to read: `deleted` (recoverable) is told apart from `absent`.
   */
  read(name: string, ctx: VaultContext): Promise<SecretRead>;
  /** The current version (or `versionId`), or undefined when the secret does not exist. */
  get(name: string, ctx: VaultContext, options?: { versionId?: string }): Promise<SecretVersion | undefined>;
  /**
   * State, current version and tags, without the value where the vault allows it. With
   * `deletedLookup: false`, a vault that needs a second request to tell a soft-deleted secret from
   * an absent one (Key Vault) reports it `absent`: a writer then learns it from the write's
   * `deleted_in_destination` refusal instead of paying that request on every first write.
   */
  describe(name: string, ctx: VaultContext, options?: { deletedLookup?: boolean }): Promise<SecretDescription>;
  /** Writes a new version; returns its id. */
  put(name: string, value: Sensitive<string>, options: PutOptions, ctx: VaultContext): Promise<{ versionId: string }>;
  /** Deletes; deleting what is already gone is success. */
  delete(name: string, options: DeleteOptions, ctx: VaultContext): Promise<DeleteResult>;
  /** Brings a deleted secret back and waits until it is usable. */
  restore(name: string, ctx: VaultContext): Promise<void>;
  /**
   * Metadata of the recent versions, newest first, values never read: their stamps and, where
   * the vault keeps tags per version, their tags (provenance of an older version tells a replica
   * apart from an unrelated secret after someone wrote a version without tags). Secrets Manager
   * tells only the versions that carry a staging label.
   */
  versions(name: string, ctx: VaultContext, limit?: number): Promise<VersionInfo[]>;
  /**
   * Every secret of the vault (active, then deleted unless excluded), page by page, values never
   * read. Order is the vault's; a secret deleted or created while the listing runs may or may
   * not appear.
   */
  list(ctx: VaultContext, options?: ListOptions): AsyncIterable<ListedSecret>;
}
