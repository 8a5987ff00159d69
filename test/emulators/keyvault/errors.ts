/**
 * Key Vault error bodies, shaped exactly as the real service sends them.
 *
 * Sources, in order of trust: the fixtures in shared/fixtures (FORMATS.md §E), the Azure SDK for JS
 * test recordings of the real service (sdk/keyvault/keyvault-secrets/recordings), and issue threads
 * quoting real responses. Texts marked "unverified" are plausible stand-ins; callers must branch on
 * `error.code` / `error.innererror.code`, never on message text.
 */

/** The JSON body of every Key Vault error response. */
export interface KeyVaultErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly innererror?: { readonly code: string };
  };
}

/** An error the emulator answers with; thrown by the store, rendered by the router. */
export class KeyVaultError extends Error {
  readonly status: number;
  readonly body: KeyVaultErrorBody;

  constructor(status: number, code: string, message: string, innerCode?: string) {
    super(message);
    this.name = "KeyVaultError";
    this.status = status;
    this.body = innerCode === undefined
      ? { error: { code, message } }
      : { error: { code, message, innererror: { code: innerCode } } };
  }
}

/** 404 for a secret that does not exist (or is still being recovered). Text from a real recording. */
export function secretNotFound(name: string, version?: string): KeyVaultError {
  const id = version === undefined ? name : `${name}/${version}`;
  return new KeyVaultError(
    404,
    "SecretNotFound",
    `A secret with (name/id) ${id} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );
}

/** 404 from /deletedsecrets/{name}. Text from a real recording. */
export function deletedSecretNotFound(name: string): KeyVaultError {
  return new KeyVaultError(404, "SecretNotFound", `Deleted Secret not found: ${name}`);
}

/** 409 for a write to a soft-deleted name (fixture azure-keyvault-error-409-objectisdeletedbutrecoverable). */
export function deletedButRecoverable(name: string): KeyVaultError {
  return new KeyVaultError(
    409,
    "Conflict",
    `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
    "ObjectIsDeletedButRecoverable",
  );
}

/** 409 while a delete or purge is still in progress (fixture azure-keyvault-error-409-objectisbeingdeleted). */
export function beingDeleted(name: string): KeyVaultError {
  return new KeyVaultError(409, "Conflict", `Secret ${name} is currently being deleted.`, "ObjectIsBeingDeleted");
}

/** 409 for a write while a recovery is in progress (text quoted in Azure/azure-sdk-for-net#31581). */
export function beingRecovered(name: string): KeyVaultError {
  return new KeyVaultError(
    409,
    "Conflict",
    `Secret ${name} is currently being recovered and cannot be re-created; retry later.`,
    "ObjectIsBeingRecovered",
  );
}

/** 403 for reading a disabled version. Text and inner code from a real recording. */
export function secretDisabled(): KeyVaultError {
  return new KeyVaultError(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled");
}

/** 400 for a name outside `^[0-9a-zA-Z-]{1,127}$`; text quoted in many real error reports. */
export function invalidName(name: string): KeyVaultError {
  return new KeyVaultError(400, "BadParameter", `The request URI contains an invalid name: ${name}`);
}

/**
 * 400 for a property the service rejects (fixture azure-keyvault-error-400-tags: 16 tags). Real Key
 * Vault uses this terse text for tag violations; reusing it for value size and content type is
 * unverified.
 */
export function invalidProperty(): KeyVaultError {
  return new KeyVaultError(400, "BadParameter", "Property has invalid value\r\n");
}

/** 400 for a request the emulator cannot read at all (unverified text). */
export function badParameter(message: string): KeyVaultError {
  return new KeyVaultError(400, "BadParameter", message);
}

/** 404 for a path or method the secrets API does not have (unverified text). */
export function routeNotFound(method: string, path: string): KeyVaultError {
  return new KeyVaultError(404, "NotFound", `The requested operation ${method} ${path} was not found.`);
}

/**
 * 403 for a purge in a purge-protected vault. Status, code and text as quoted from the service in
 * Azure/sap-automation#200 and microsoft/AzureTRE#1951 (the quotes carry no inner error).
 */
export function purgeProtected(): KeyVaultError {
  return new KeyVaultError(
    403,
    "Forbidden",
    'Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.\r\nVault: emulator;location=emulator',
  );
}

/**
 * 400 for an api-version the vault does not serve; text as quoted from the service in
 * Azure/azure-sdk-for-python#28595 (an Azure Stack Hub vault whose latest version was 7.1).
 */
export function apiVersionNotRecognized(version: string, latest: string): KeyVaultError {
  return new KeyVaultError(
    400,
    "BadParameter",
    `The specified version (${version}) is not recognized. Consider using the latest supported version (${latest}).`,
  );
}
