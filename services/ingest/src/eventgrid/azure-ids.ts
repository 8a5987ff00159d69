import type { Expectation } from "../json/fields.ts";

/**
 * The shapes of Azure identifiers as the event schemas accept them. Checking them while reading
 * turns a bad field into a named issue instead of a late schema failure.
 * @see ../../../../../shared/FORMATS.md sections C and E
 */

/** Event Grid ids are GUIDs; the id also becomes the JetStream message id and the correlation id. */
export const EVENT_ID: Expectation = { pattern: /^[A-Za-z0-9._:-]{1,128}$/, expected: "an event id (GUID)" };

/** Event Grid writes seven fractional digits (…27.1234567Z). */
export const TIMESTAMP: Expectation = {
  pattern: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/,
  expected: "an ISO-8601 timestamp with a zone",
};

export const EVENT_TYPE: Expectation = { pattern: /^[A-Za-z0-9.]{1,128}$/, expected: "an event type like Microsoft.KeyVault.SecretNewVersionCreated" };

/** Key Vault names: 3–24 letters, digits and dashes. */
export const VAULT_NAME: Expectation = { pattern: /^[0-9a-zA-Z-]{3,24}$/, expected: "a Key Vault name (3–24 letters, digits, -)" };

/** Secret, key and certificate names: 1–127 letters, digits and dashes. */
export const OBJECT_NAME: Expectation = { pattern: /^[0-9a-zA-Z-]{1,127}$/, expected: "a Key Vault object name (1–127 letters, digits, -)" };

/** Object versions: 32 hex digits (Key Vault writes them in lowercase). */
export const OBJECT_VERSION: Expectation = { pattern: /^[0-9a-fA-F]{32}$/, expected: "a Key Vault version (32 hex digits)" };

/** The validation code is echoed back to Event Grid, so only a plain token is echoed. */
export const VALIDATION_CODE: Expectation = { pattern: /^[A-Za-z0-9-]{1,128}$/, expected: "a validation code (GUID)" };

export function isTimestamp(value: string): boolean {
  return TIMESTAMP.pattern.test(value) && !Number.isNaN(Date.parse(value));
}

/** The vault in an ARM resource id: `/subscriptions/…/providers/Microsoft.KeyVault/vaults/<vault>`. */
export function vaultFromResourceId(resourceId: string): string | undefined {
  const match = /\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)\/?$/i.exec(resourceId);
  const vault = match?.[1];
  return vault !== undefined && VAULT_NAME.pattern.test(vault) ? vault : undefined;
}

/** The parts of a Key Vault object id: `https://<vault>.vault.azure.net/<collection>/<name>[/<version>]`. */
export interface ObjectId {
  readonly vaultName?: string;
  readonly collection?: "secrets" | "keys" | "certificates";
  readonly name?: string;
  readonly version?: string;
}

const COLLECTIONS: ReadonlySet<string> = new Set(["secrets", "keys", "certificates"]);

/**
 * Takes a Key Vault object URL apart; undefined when it is not one. The vault comes from the host
 * only when the host looks like `<vault>.vault.<cloud suffix>` (Azure public, Government, China).
 */
export function parseObjectId(id: string): ObjectId | undefined {
  let url: URL;
  try {
    url = new URL(id);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:") return undefined;
  const [first, ...rest] = url.hostname.split(".");
  const vaultName = rest[0] === "vault" && first !== undefined && VAULT_NAME.pattern.test(first) ? first : undefined;
  const segments = url.pathname.split("/").filter((segment) => segment !== "");
  if (segments.length === 0) return vaultName === undefined ? undefined : { vaultName };
  const [collection, name, version, ...extra] = segments;
  if (extra.length > 0 || collection === undefined || !COLLECTIONS.has(collection)) return undefined;
  if (name === undefined || !OBJECT_NAME.pattern.test(name)) return undefined;
  if (version !== undefined && !OBJECT_VERSION.pattern.test(version)) return undefined;
  return {
    ...(vaultName === undefined ? {} : { vaultName }),
    collection: collection as NonNullable<ObjectId["collection"]>,
    name,
    ...(version === undefined ? {} : { version: version.toLowerCase() }),
  };
}
