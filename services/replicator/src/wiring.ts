import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { AwsCredentialIdentityProvider } from "@aws-sdk/types";
import type { TokenCredential } from "@azure/core-auth";
import { isAwsToAzure, type Rule } from "@credmesh/config";
import type { Origin } from "@credmesh/events";
import {
  ManagedIdentityTokenSource,
  clientAssertionCredential,
  managedIdentityCredential,
  tokenFromFile,
  webIdentityCredentials,
} from "@credmesh/identity";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { renderTemplate } from "@credmesh/naming";
import { KeyVaultVault, SecretsManagerVault, createKeyVaultClient, type VaultPort } from "@credmesh/vault";
import type { ReplicatorConfig } from "./config.ts";

/**
 * The cell's federated credentials: one Azure credential (Key Vault) and one AWS credential
 * provider (STS AssumeRoleWithWebIdentity), both cached and refreshed before expiry.
 */
export function buildCredentials(config: ReplicatorConfig, metrics: Metrics, logger: Logger): { azure: TokenCredential; aws: AwsCredentialIdentityProvider } {
  const identity = new ManagedIdentityTokenSource(
    { endpoint: config.azure.identityEndpoint, ...(config.azure.clientId ? { clientId: config.azure.clientId } : {}) },
    { metrics, logger },
  );
  const tokenFile = config.aws.webIdentityTokenFile;
  const webIdentityToken =
    config.aws.identity === "web-identity-token-file" && tokenFile
      ? // Re-read when it changes: the platform rotates the projected token file in place.
        tokenFromFile(tokenFile, { logger, what: "AWS web identity token file" })
      : async () => (await identity.getToken(config.azure.tokenAudience)).token;
  const aws = webIdentityCredentials(
    {
      roleArn: config.aws.roleArn,
      sessionName: `${config.ownSessionPrefix}${config.cell}`,
      durationSeconds: config.aws.sessionDurationSeconds,
      region: config.aws.stsRegion,
      ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}),
    },
    webIdentityToken,
    { metrics, logger },
  );
  const { tenantId, clientId, federatedTokenFile, authorityHost, caFile } = config.azure;
  const azure =
    config.azure.identity === "client-assertion" && tenantId && clientId && federatedTokenFile
      ? clientAssertionCredential(
          { tenantId, clientId, tokenFile: federatedTokenFile, ...(authorityHost ? { authorityHost } : {}), ...(caFile ? { caFile } : {}) },
          { metrics, logger },
        )
      : managedIdentityCredential(identity);
  return { azure, aws };
}

/** Vault adapters, one per AWS account/region and per Key Vault URL, created on first use. */
export function buildVaults(config: ReplicatorConfig, credentials: ReturnType<typeof buildCredentials>, metrics: Metrics) {
  const awsVaults = new Map<string, VaultPort>();
  const keyVaults = new Map<string, VaultPort>();
  const awsVault = (region: string): VaultPort => {
    let vault = awsVaults.get(region);
    if (!vault) {
      const client = new SecretsManagerClient({
        region,
        credentials: credentials.aws,
        maxAttempts: 1,
        ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}),
      });
      vault = new SecretsManagerVault(client, metrics);
      awsVaults.set(region, vault);
    }
    return vault;
  };
  const keyVault = (vaultUrl: string): VaultPort => {
    let vault = keyVaults.get(vaultUrl);
    if (!vault) {
      const client = createKeyVaultClient({
        vaultUrl,
        credential: credentials.azure,
        ...(config.azure.caFile ? { caFile: config.azure.caFile } : {}),
        disableChallengeResourceVerification: config.azure.disableChallengeResourceVerification,
      });
      vault = new KeyVaultVault(client, { metrics, pollIntervalMs: config.azure.pollIntervalMs });
      keyVaults.set(vaultUrl, vault);
    }
    return vault;
  };
  return {
    sourceFor(origin: Origin): VaultPort {
      return origin.cloud === "aws"
        ? awsVault(origin.region)
        : keyVault(renderTemplate(config.azure.vaultUrlTemplate, { name: origin.secretName, vault: origin.vaultName.toLowerCase() }));
    },
    destinationFor(rule: Rule): VaultPort {
      return isAwsToAzure(rule) ? keyVault(rule.destination.vaultUrl) : awsVault(rule.destination.region);
    },
  };
}
