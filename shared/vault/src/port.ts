import type { Logger, Sensitive } from "@credmesh/logging";

/**
 * The narrow port every vault adapter implements: get / describe / put / delete / restore / list, each
 * with a context that carries a deadline signal and a logger. Cloud quirks (Key Vault soft
 * delete and recovery, Secrets Manager's recovery window and ClientRequestToken) stay inside
 * the adapters.
 * @see ../../../shared/STYLE.md "Ports and adapters for the clouds"
 */
export interface VaultContext {
  logger: Logger;
  signal?: AbortSignal;
}

export interface SecretVersion {
  /** The name as the vault knows it. */
  name: string;
  versionId: string;
  value: Sensitive<string>;
  /** "binary/base64" when the value is base64 of binary data. */
  encoding: "utf8" | "base64";
  contentType?: string;
  tags: Readonly<Record<string, string>>;
  createdAt?: Date;
}

export type SecretState = "absent" | "active" | "deleted";

export interface SecretDescription {
  name: string;
  state: SecretState;
  /** The full identifier (ARN, Key Vault id) when the vault has one. */
  id?: string;
  /** The version currently served (AWSCURRENT; Key Vault's latest). */
  currentVersionId?: string;
  tags: Readonly<Record<string, string>>;
  deletedAt?: Date;
}

export interface PutOptions {
  tags: Readonly<Record<string, string>>;
  contentType?: string;
  encoding?: "utf8" | "base64";
  /**
   * Makes a repeated write a no-op where the vault supports it (Secrets Manager's
   * ClientRequestToken becomes the version id).
   */
  idempotencyToken?: string;
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
  deletedAt?: Date;
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
  tags: Readonly<Record<string, string>>;
}

export interface VaultPort {
  readonly cloud: "aws" | "azure";
  /** The current version (or `versionId`), or undefined when the secret does not exist. */
  get(name: string, ctx: VaultContext, options?: { versionId?: string }): Promise<SecretVersion | undefined>;
  /** State, current version and tags, without the value where the vault allows it. */
  describe(name: string, ctx: VaultContext): Promise<SecretDescription>;
  /** Writes a new version; returns its id. */
  put(name: string, value: Sensitive<string>, options: PutOptions, ctx: VaultContext): Promise<{ versionId: string }>;
  /** Deletes; deleting what is already gone is success. */
  delete(name: string, options: DeleteOptions, ctx: VaultContext): Promise<DeleteResult>;
  /** Brings a deleted secret back and waits until it is usable. */
  restore(name: string, ctx: VaultContext): Promise<void>;
  /**
   * Metadata of the versions, newest first, values never read. Only vaults that keep tags per
   * version (Key Vault) implement it; provenance of an older version tells a replica apart from
   * an unrelated secret after someone wrote a version without tags.
   */
  versions?(name: string, ctx: VaultContext, limit?: number): Promise<VersionInfo[]>;
  /**
   * Every secret of the vault (active, then deleted unless excluded), page by page, values never
   * read. Order is the vault's; a secret deleted or created while the listing runs may or may
   * not appear.
   */
  list(ctx: VaultContext, options?: ListOptions): AsyncIterable<ListedSecret>;
}
