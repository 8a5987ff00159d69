/**
 * Azure Key Vault identifiers as credmesh accepts them: vault names, object (secret, key,
 * certificate) names and versions, vault URLs, object ids and the ARM resource id of a vault.
 * @see ../../../../shared/FORMATS.md sections C and E
 */

/** Key Vault vault names: 3–24 letters, digits and dashes (the DNS label of `<vault>.vault.azure.net`). */
export const VAULT_NAME = /^[0-9a-zA-Z-]{3,24}$/;

/** Secret, key and certificate names: 1–127 letters, digits and dashes, compared case-insensitively. */
export const KEY_VAULT_OBJECT_NAME = /^[0-9a-zA-Z-]{1,127}$/;
export const KEY_VAULT_OBJECT_NAME_MAX = 127;

/** Object versions as Key Vault mints them: 32 lowercase hex digits. */
export const KEY_VAULT_VERSION = /^[0-9a-f]{32}$/;

/** The DNS suffixes of Key Vault in Azure Public, China and US Government. */
export const KEY_VAULT_DNS_SUFFIXES: readonly string[] = ["vault.azure.net", "vault.azure.cn", "vault.usgovcloudapi.net"];

export function isVaultName(value: string): boolean {
  return VAULT_NAME.test(value);
}

export function isKeyVaultObjectName(value: string): boolean {
  return KEY_VAULT_OBJECT_NAME.test(value);
}

/** A version in either case, as Event Grid may write it, normalized to lowercase; else undefined. */
export function normalizeKeyVaultVersion(value: string): string | undefined {
  const lower = value.toLowerCase();
  return KEY_VAULT_VERSION.test(lower) ? lower : undefined;
}

/**
 * The vault name of a Key Vault URL (`https://<vault>.vault.azure.net[/]`), from its host, in
 * lowercase (host names are); undefined for any other host (a private endpoint alias, an emulator).
 */
export function vaultNameFromUrl(url: string): string | undefined {
  const parsed = httpsUrl(url);
  return parsed === undefined ? undefined : vaultNameFromHost(parsed.hostname);
}

function httpsUrl(value: string): URL | undefined {
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  return url.protocol === "https:" ? url : undefined;
}

function vaultNameFromHost(hostname: string): string | undefined {
  const dot = hostname.indexOf(".");
  if (dot < 0) return undefined;
  const label = hostname.slice(0, dot);
  const suffix = hostname.slice(dot + 1).toLowerCase();
  return KEY_VAULT_DNS_SUFFIXES.includes(suffix) && isVaultName(label) ? label : undefined;
}

/** The parts of a Key Vault object id: `https://<vault>.vault.azure.net/<collection>/<name>[/<version>]`. */
export interface KeyVaultObjectId {
  /** Lowercase, as host names are. */
  readonly vaultName?: string;
  readonly collection?: "secrets" | "keys" | "certificates";
  readonly name?: string;
  /** Lowercase. */
  readonly version?: string;
}

const COLLECTIONS: ReadonlySet<string> = new Set(["secrets", "keys", "certificates"]);

/**
 * Takes a Key Vault object URL apart; undefined when it is not one. The vault comes from the host
 * only when the host is `<vault>.vault.<cloud suffix>` (Azure Public, Government, China); a URL of
 * another host still yields its collection, name and version.
 */
export function parseKeyVaultObjectId(id: string): KeyVaultObjectId | undefined {
  const url = httpsUrl(id);
  if (url === undefined) return undefined;
  const vaultName = vaultNameFromHost(url.hostname);
  const segments = url.pathname.split("/").filter((segment) => segment !== "");
  if (segments.length === 0) return vaultName === undefined ? undefined : { vaultName };
  const [collection, name, rawVersion, ...extra] = segments;
  if (extra.length > 0 || collection === undefined || !COLLECTIONS.has(collection)) return undefined;
  if (name === undefined || !isKeyVaultObjectName(name)) return undefined;
  const version = rawVersion === undefined ? undefined : normalizeKeyVaultVersion(rawVersion);
  if (rawVersion !== undefined && version === undefined) return undefined;
  return {
    ...(vaultName === undefined ? {} : { vaultName }),
    collection: collection as NonNullable<KeyVaultObjectId["collection"]>,
    name,
    ...(version === undefined ? {} : { version }),
  };
}

/** The vault of an ARM resource id: `/subscriptions/…/providers/Microsoft.KeyVault/vaults/<vault>`. */
export function vaultNameFromResourceId(resourceId: string): string | undefined {
  const vault = /\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)\/?$/i.exec(resourceId)?.[1];
  return vault !== undefined && isVaultName(vault) ? vault : undefined;
}
