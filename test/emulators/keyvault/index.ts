/**
 * In-repo Azure Key Vault emulator (secrets data plane + managed-identity and Entra token endpoints) for
 * integration and end-to-end tests. See README.md beside this file for how clients connect.
 */
export { startKeyVaultEmulator } from "./emulator.ts";
export type { KeyVaultEmulator, KeyVaultEmulatorOptions } from "./emulator.ts";
export { DEFAULT_VAULT_SETTINGS } from "./settings.ts";
