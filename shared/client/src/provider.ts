import type { Sensitive } from "@credmesh/logging";

/**
 * The port every cloud adapter of the failover client implements: read one secret of one store
 * (a Secrets Manager account and region, or a Key Vault) by its name in that store, within a
 * deadline. The failover manager maps an application's logical name to each store's name and
 * never talks to an SDK itself; a unit test can hand it a fake.
 * @see ../README.md
 */
export interface SecretProvider {
  readonly cloud: "aws" | "azure";
  /** Where the store is, for reports and logs: `aws/<account>/<region>` or the vault URL. */
  readonly location: string;
  /**
   * The value of the current version, or of `versionId`. Fails with a classified
   * `CredmeshError` (`not_found` when the secret does not exist).
   */
  get(name: string, ctx: ProviderContext, options?: { versionId?: string }): Promise<ProvidedSecret>;
  /**
   * The current version id and the secret's tags, without reading the value where the cloud
   * allows it (Secrets Manager DescribeSecret). Key Vault has no value-free read of the current
   * version, so its answer carries the secret it read (`secret`).
   */
  currentVersion(name: string, ctx: ProviderContext): Promise<ProvidedVersion>;
  /** Releases the SDK client's connections. */
  close(): void;
}

/** The deadline of one call: the adapter passes it to the SDK as its abort signal. */
export interface ProviderContext {
  signal: AbortSignal;
}

export interface ProvidedSecret {
  /** The name as the store knows it. */
  name: string;
  versionId: string;
  value: Sensitive<string>;
  /** "base64" when the value is base64 of binary data. */
  encoding: "utf8" | "base64";
  createdAt?: Date | undefined;
  /** Tags, when the read returned them (Key Vault: the version's; Secrets Manager's value read has none). */
  tags?: Readonly<Record<string, string>> | undefined;
}

export interface ProvidedVersion {
  versionId: string;
  /** The secret's tags (Secrets Manager) or the current version's (Key Vault). */
  tags: Readonly<Record<string, string>>;
  /** The secret itself when the store could only tell the version by reading it (Key Vault). */
  secret?: ProvidedSecret | undefined;
}
