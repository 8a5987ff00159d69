import {
  CredentialChain,
  ManagedIdentityTokenSource,
  chainedAwsCredentials,
  chainedTokenCredential,
  entraAssertionFetcher,
  fileAssertion,
  managedIdentitySource,
  tokenFromFile,
  unconfiguredSource,
  webIdentityFetcher,
  type AwsCredentials,
  type AzureAccessToken,
  type AzureTokenRequest,
  type ChainSource,
  type ChainedAwsCredentials,
  type ChainedTokenCredential,
} from "@credmesh/identity";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import type { WatcherConfig } from "./config.ts";

/**
 * The watcher's own credentials: an AWS chain (STS web identity, from a projected token file or an
 * Azure managed identity token) for IAM, and an Entra chain (managed identity, or a federated client
 * assertion) for Microsoft Graph. Built from the same sources as the replicators' chains.
 */
export function watcherCredentials(config: WatcherConfig, metrics: Metrics, logger: Logger): { aws: ChainedAwsCredentials | undefined; azure: ChainedTokenCredential } {
  const imds = new ManagedIdentityTokenSource({ endpoint: config.azure.identityEndpoint, ...(config.azure.clientId ? { clientId: config.azure.clientId } : {}) }, { logger });
  const options = (name: string) => ({ name, metrics, logger });
  let aws: ChainedAwsCredentials | undefined;
  const roleArn = config.aws.roleArn;
  if (roleArn !== undefined) {
    const assume = (source: string, token: Parameters<typeof webIdentityFetcher>[1]) =>
      webIdentityFetcher(
        {
          roleArn,
          sessionName: "credmesh-identity-watcher",
          durationSeconds: config.aws.sessionDurationSeconds,
          region: config.aws.stsRegion,
          ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}),
        },
        token,
        { source, logger },
      );
    const sources = config.aws.identity.map((source): ChainSource<void, AwsCredentials> => {
      if (source === "web-identity-token-file") {
        const file = config.aws.webIdentityTokenFile;
        if (!file) return unconfiguredSource(source, ["CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE"]);
        return { name: source, fetch: assume(source, tokenFromFile(file, { logger, what: "AWS web identity token file" })) };
      }
      return { name: source, fetch: assume(source, async () => (await imds.getToken(config.azure.tokenAudience)).token) };
    });
    aws = chainedAwsCredentials(new CredentialChain(sources, options("aws")));
  }
  const { tenantId, clientId, federatedTokenFile, authorityHost, caFile } = config.azure;
  const azureSources = config.azure.identity.map((source): ChainSource<AzureTokenRequest, AzureAccessToken> => {
    if (source === "managed-identity") return managedIdentitySource(imds, source);
    if (!tenantId || !clientId || !federatedTokenFile) return unconfiguredSource(source, ["CREDMESH_AZURE_TENANT_ID", "CREDMESH_AZURE_CLIENT_ID", "CREDMESH_AZURE_FEDERATED_TOKEN_FILE"]);
    return {
      name: source,
      fetch: entraAssertionFetcher(
        { tenantId, clientId, ...(authorityHost ? { authorityHost } : {}), ...(caFile ? { caFile } : {}) },
        fileAssertion(tokenFromFile(federatedTokenFile, { logger, what: "client assertion token file" })),
        { logger },
      ),
    };
  });
  return { aws, azure: chainedTokenCredential(new CredentialChain(azureSources, options("azure"))) };
}
