/**
 * In-repo Azure Key Vault emulator (secrets data plane + managed-identity and Entra token endpoints) for
 * integration and end-to-end tests. See README.md beside this file for how clients connect.
 */
export { startKeyVaultEmulator } from "./emulator.ts";
export type { KeyVaultEmulator, KeyVaultEmulatorOptions } from "./emulator.ts";
export type { ManagedIdentity } from "./identity.ts";
export { TOKEN_EXCHANGE_AUDIENCE } from "./federation.ts";
export type { FederatedCredential, FederatedExchange } from "./federation.ts";
export type { KeyVaultErrorBody } from "./errors.ts";
export { DEFAULT_VAULT_SETTINGS, SUPPORTED_API_VERSIONS } from "./settings.ts";
export type { ThrottleSettings, VaultSettings, VaultSettingsInput } from "./settings.ts";
export type { LoggedRequest } from "./request-log.ts";
