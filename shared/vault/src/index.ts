export type {
  DeleteOptions,
  PutOptions,
  SecretDescription,
  SecretState,
  SecretVersion,
  VaultContext,
  VaultPort,
  VersionInfo,
} from "./port.ts";
export { MemoryVault } from "./memory-vault.ts";
export { BINARY_CONTENT_TYPE, SecretsManagerVault, type SecretsManagerApi } from "./aws/secrets-manager-vault.ts";
export { mapAwsError } from "./aws/errors.ts";
export {
  KEY_VAULT_MAX_VALUE_BYTES,
  KeyVaultVault,
  createKeyVaultClient,
  type KeyVaultApi,
  type KeyVaultClientConfig,
} from "./azure/key-vault-vault.ts";
export { errorCodesFromBody, mapKeyVaultError } from "./azure/errors.ts";
