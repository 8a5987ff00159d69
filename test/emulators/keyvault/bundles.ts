/**
 * JSON shapes of Key Vault secret responses: SecretBundle, SecretItem and their deleted variants.
 *
 * Field order follows the fixtures (azure-keyvault-setsecret-response.json,
 * azure-keyvault-deletesecret-response.json); optional fields are omitted, never sent as null,
 * because that is what the service does.
 */
import { currentVersion } from "./model.ts";
import type { DeletedSecretRecord, SecretRecord, SecretVersionRecord } from "./model.ts";

/** What every rendering needs to know about the vault. */
export interface VaultContext {
  /** `https://127.0.0.1:<port>`, no trailing slash, as ids are built from it. */
  readonly vaultUrl: string;
  readonly softDeleteRetentionDays: number;
  /** `Recoverable+Purgeable`, `CustomizedRecoverable` (purge-protected), …: see recoveryLevelOf. */
  readonly recoveryLevel: string;
  /** Every n-th page of a listing is empty but carries a nextLink; 0: never. */
  readonly emptyPageEvery: number;
}

/** The `attributes` object of a secret version. */
function attributesJson(vault: VaultContext, version: SecretVersionRecord): Record<string, unknown> {
  return {
    enabled: version.enabled,
    ...(version.nbf === undefined ? {} : { nbf: version.nbf }),
    ...(version.exp === undefined ? {} : { exp: version.exp }),
    created: version.created,
    updated: version.updated,
    recoveryLevel: vault.recoveryLevel,
    recoverableDays: vault.softDeleteRetentionDays,
  };
}

/**
 * A SecretBundle. `withValue` is false for the recover response, which real Key Vault sends without
 * the value (seen in the SDK's recordings of the service).
 */
export function secretBundle(
  vault: VaultContext,
  secret: SecretRecord,
  version: SecretVersionRecord,
  withValue: boolean,
): Record<string, unknown> {
  return {
    ...(withValue ? { value: version.value } : {}),
    ...common(vault, secret, version, true),
  };
}

/** An item of `GET /secrets` (versionless id) or `GET /secrets/{name}/versions` (versioned id). */
export function secretItem(
  vault: VaultContext,
  secret: SecretRecord,
  version: SecretVersionRecord,
  versionedId: boolean,
): Record<string, unknown> {
  return common(vault, secret, version, versionedId);
}

/** The DeletedSecretBundle of `DELETE /secrets/{name}` and `GET /deletedsecrets/{name}`: no value. */
export function deletedSecretBundle(vault: VaultContext, record: DeletedSecretRecord): Record<string, unknown> {
  return {
    ...deletedHeader(vault, record),
    ...common(vault, record.secret, currentVersion(record.secret), true),
  };
}

/** An item of `GET /deletedsecrets`: like the bundle, but with a versionless id. */
export function deletedSecretItem(vault: VaultContext, record: DeletedSecretRecord): Record<string, unknown> {
  return {
    ...deletedHeader(vault, record),
    ...common(vault, record.secret, currentVersion(record.secret), false),
  };
}

function deletedHeader(vault: VaultContext, record: DeletedSecretRecord): Record<string, unknown> {
  return {
    recoveryId: `${vault.vaultUrl}/deletedsecrets/${record.secret.name}`,
    deletedDate: record.deletedDate,
    scheduledPurgeDate: record.scheduledPurgeDate,
  };
}

function common(
  vault: VaultContext,
  secret: SecretRecord,
  version: SecretVersionRecord,
  versionedId: boolean,
): Record<string, unknown> {
  const baseId = `${vault.vaultUrl}/secrets/${secret.name}`;
  return {
    ...(version.contentType === undefined ? {} : { contentType: version.contentType }),
    id: versionedId ? `${baseId}/${version.version}` : baseId,
    attributes: attributesJson(vault, version),
    ...(version.tags === undefined ? {} : { tags: { ...version.tags } }),
  };
}
