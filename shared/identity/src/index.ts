export { CachedCredential, DEFAULT_REFRESH, type Expiring, type RefreshPolicy } from "./cached-token.ts";
export { CredentialChain, unconfiguredSource, type ChainSource, type CredentialChainOptions } from "./chain.ts";
export { chainedAwsCredentials, type ChainedAwsCredentials } from "./aws-chain.ts";
export { chainedTokenCredential, managedIdentitySource, type ChainedTokenCredential } from "./azure-chain.ts";
export {
  ClockSkewGuard,
  DEFAULT_CLOCK_SKEW_TOLERANCE_SECONDS,
  type ClockSkewGuardOptions,
  type ClockSkewObservation,
  type TokenOrigin,
} from "./clock-skew.ts";
export {
  AZURE_TOKEN_EXCHANGE_AUDIENCE,
  DEFAULT_IMDS_ENDPOINT,
  ManagedIdentityTokenSource,
  managedIdentityCredential,
  type AzureToken,
  type ManagedIdentityConfig,
} from "./managed-identity.ts";
export {
  webIdentityCredentials,
  webIdentityFetcher,
  type AwsCredentials,
  type WebIdentityConfig,
  type WebIdentityFetchOptions,
} from "./web-identity.ts";
export { STS_ERROR_REASONS, stsError } from "./sts-errors.ts";
export { WEB_IDENTITY_TOKEN_DURATION, stsWebIdentityToken, type StsWebIdentityTokenConfig } from "./sts-web-identity-token.ts";
export {
  DEFAULT_AUTHORITY_HOST,
  clientAssertionCredential,
  entraAssertionFetcher,
  fileAssertion,
  type AssertionSource,
  type AzureAccessToken,
  type AzureTokenRequest,
  type ClientAssertionConfig,
  type ClientAssertionSdk,
  type ClientAssertionTokenCredential,
  type EntraApplication,
  type EntraAssertionDeps,
} from "./client-assertion.ts";
export { AADSTS_REASONS } from "./entra-errors.ts";
export { CELL_STATUS_TAG, type CellStatus } from "./cell-status.ts";
export { tokenFromFile, type TokenFile } from "./token-file.ts";
export {
  rolesAnywhereCredentials,
  rolesAnywhereFetcher,
  type RolesAnywhereConfig,
  type RolesAnywhereCredentialProvider,
  type RolesAnywhereFetchOptions,
} from "./roles-anywhere/credentials.ts";
export {
  CERTIFICATE_PROBLEM_REASONS,
  certificateCheckError,
  checkCertificateChain,
  commonNamesOf,
  dn,
  type CertificateChainInput,
  type CertificateCheck,
  type CertificateProblem,
  type CertificateProblemKind,
} from "./roles-anywhere/certificate-chain.ts";
export { cellCertificateReader, type CellCertificate, type CellCertificateFiles } from "./roles-anywhere/cell-certificate.ts";
export {
  ROLES_ANYWHERE_SERVICE,
  SIGNING_ALGORITHM,
  signRolesAnywhereRequest,
  type RequestToSign,
  type SignedRequest,
  type SigningAlgorithm,
  type SigningMaterial,
} from "./roles-anywhere/signing.ts";
