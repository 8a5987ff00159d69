/**
 * `@credmesh/client`: applications read secrets from whichever cloud is alive, without a line of
 * cloud-specific fallback code and without importing a cloud SDK.
 * @see ../README.md
 */
export { FailoverClient } from "./client.ts";
export {
  DEFAULTS,
  type AwsBackendOptions,
  type AzureBackendOptions,
  type BackendOptions,
  type BreakerOptions,
  type CacheOptions,
  type FailoverClientOptions,
} from "./options.ts";
export type { BackendRole, OriginReport, SecretRead, ServedBy } from "./read.ts";
export type { ClientEvent, ClientLogger } from "./events.ts";
export type { BreakerState } from "./backend-guard.ts";
export type { ProvidedSecret, ProvidedVersion, ProviderContext, SecretProvider } from "./provider.ts";
export { SecretsManagerProvider, type SecretsManagerProviderOptions } from "./aws-provider.ts";
export { KeyVaultProvider, type KeyVaultProviderOptions } from "./azure-provider.ts";
export type { AwsCredentialSource, AzureCredentialSource } from "./credentials.ts";
export { routeFor, type Route, type StoreRef } from "./routes.ts";
export { Registry } from "@credmesh/metrics";
export { CredmeshError, isAvailabilityFailure, type ReasonCode } from "@credmesh/errors";
export { loadRules } from "@credmesh/config";
export { clientOptionsFromEnv } from "./env-options.ts";
