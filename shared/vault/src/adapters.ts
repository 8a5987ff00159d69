/**
 * The cloud adapters and the port alone, without the replicator's rate limiting: what an
 * application (the failover client) needs to read a secret. `@credmesh/vault/adapters`.
 */
export type { SecretDescription, SecretState, SecretVersion, VaultContext, VaultPort } from "./port.ts";
export { SecretsManagerVault, type SecretsManagerApi } from "./aws/secrets-manager-vault.ts";
export { KeyVaultVault, createKeyVaultClient, type KeyVaultApi, type KeyVaultClientConfig } from "./azure/key-vault-vault.ts";
export type { CallMetrics } from "./observed.ts";
