export {
  STAMP_TAG,
  type DeleteOptions,
  type DeleteResult,
  type ListOptions,
  type ListedSecret,
  type PagePermit,
  type PagedOperation,
  type PutOptions,
  type SecretDescription,
  type SecretRead,
  type SecretState,
  type SecretVersion,
  type VaultContext,
  type VaultPort,
  type VersionInfo,
  type WriteStamp,
} from "./port.ts";
export { MemoryVault } from "./memory-vault.ts";
export { BINARY_CONTENT_TYPE, SecretsManagerVault, type SecretsManagerApi } from "./aws/secrets-manager-vault.ts";
export { mapAwsError } from "./aws/errors.ts";
export {
  KEY_VAULT_MAX_VALUE_BYTES,
  KeyVaultVault,
  type KeyVaultVaultOptions,
  createKeyVaultClient,
  type KeyVaultApi,
  type KeyVaultClientConfig,
} from "./azure/key-vault-vault.ts";
export { errorCodesFromBody, mapKeyVaultError } from "./azure/errors.ts";
export { SlidingWindowLimiter, type WindowLimit, type WindowSlot, type WindowTicket } from "./rate-limit/sliding-window.ts";
export {
  DEFAULT_RATE_LIMITS,
  OPERATION_COSTS,
  bucketLimits,
  type RateLimitSettings,
  type VaultOperation,
} from "./rate-limit/settings.ts";
export { VaultRateLimiter, type LimiterMetrics, type Permit, type VaultRateLimiterOptions } from "./rate-limit/vault-rate-limiter.ts";
export { RateLimitedVault, VaultRateLimits } from "./rate-limit/rate-limited-vault.ts";
