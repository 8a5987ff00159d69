export { CachedCredential, DEFAULT_REFRESH, type Expiring, type RefreshPolicy } from "./cached-token.ts";
export {
  AZURE_TOKEN_EXCHANGE_AUDIENCE,
  DEFAULT_IMDS_ENDPOINT,
  ManagedIdentityTokenSource,
  managedIdentityCredential,
  type AzureToken,
  type ManagedIdentityConfig,
} from "./managed-identity.ts";
export { webIdentityCredentials, type WebIdentityConfig } from "./web-identity.ts";
export {
  DEFAULT_AUTHORITY_HOST,
  clientAssertionCredential,
  type ClientAssertionConfig,
  type ClientAssertionSdk,
  type ClientAssertionTokenCredential,
} from "./client-assertion.ts";
export { AADSTS_REASONS } from "./entra-errors.ts";
export { tokenFromFile, type TokenFile } from "./token-file.ts";
