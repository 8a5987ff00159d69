import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { isAwsToAzure, type Rule } from "@credmesh/config";
import type { Origin } from "@credmesh/events";
import {
  ClockSkewGuard,
  CredentialChain,
  ManagedIdentityTokenSource,
  chainedAwsCredentials,
  chainedTokenCredential,
  entraAssertionFetcher,
  fileAssertion,
  managedIdentitySource,
  stsWebIdentityToken,
  tokenFromFile,
  unconfiguredSource,
  rolesAnywhereFetcher,
  webIdentityFetcher,
  type AssertionSource,
  type AwsCredentials,
  type AzureAccessToken,
  type AzureTokenRequest,
  type ChainSource,
  type ChainedAwsCredentials,
  type ChainedTokenCredential,
  type EntraApplication,
} from "@credmesh/identity";
import type { Logger, Sensitive } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { renderTemplate } from "@credmesh/replicas";
import { KeyVaultVault, SecretsManagerVault, VaultRateLimits, createKeyVaultClient, type VaultPort } from "@credmesh/vault";
import type { ReplicatorConfig } from "./config.ts";
import { IdentityEventSink } from "./identity-events.ts";

/** The cell's credentials: one per cloud, each an explicit chain of sources. */
export interface Credentials {
  aws: ChainedAwsCredentials;
  azure: ChainedTokenCredential;
  /** Identity events (clock skew refusals) for the identity-watcher; attach the bus once it is open. */
  identityEvents: IdentityEventSink;
}

/**
 * The cell's federated credentials: an AWS credential chain (`CREDMESH_AWS_IDENTITY`) and a Key
 * Vault credential chain (`CREDMESH_AZURE_IDENTITY`), each trying its sources in order, memoising
 * the winner's credential and refreshing it before expiry (README "Identity"). Every web identity
 * token and client assertion passes the clock skew check before it leaves the process; refusals
 * become `credmesh.identity.<cell>.clock_skew` events once `identityEvents` is attached to the bus.
 */
export function buildCredentials(config: ReplicatorConfig, metrics: Metrics, logger: Logger, deps: { now?: () => number } = {}): Credentials {
  const identityEvents = new IdentityEventSink(config.cell, logger, deps.now ? { now: deps.now } : {});
  const skew = new ClockSkewGuard({
    toleranceSeconds: config.identity.clockSkewToleranceSeconds,
    metrics,
    logger,
    onRefusal: (observation) => identityEvents.clockSkew(observation),
    ...(deps.now ? { now: deps.now } : {}),
  });
  // Unmetered: the chains count every attempt under their own source labels.
  const imds = new ManagedIdentityTokenSource(
    { endpoint: config.azure.identityEndpoint, ...(config.azure.clientId ? { clientId: config.azure.clientId } : {}) },
    { logger },
  );
  const chainOptions = (name: string) => ({ name, metrics, logger, ...(deps.now ? { now: deps.now } : {}) });

  const assumeRole = (source: string, token: () => Promise<Sensitive<string>>, what: string, label: string) =>
    webIdentityFetcher(
      {
        roleArn: config.aws.roleArn,
        sessionName: `${config.ownSessionPrefix}${config.cell}`,
        durationSeconds: config.aws.sessionDurationSeconds,
        region: config.aws.stsRegion,
        ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}),
      },
      token,
      { source, logger, beforeUse: (t) => skew.check(t, { source: label, what, freshlyIssued: false }) },
    );
  const awsLabel = (source: string): string => `aws/${source}`;
  const awsSources = config.identity.aws.map(({ source, missing }): ChainSource<void, AwsCredentials> => {
    if (missing.length > 0) return unconfiguredSource(source, missing);
    switch (source) {
      case "web-identity-token-file": {
        // Re-read when it changes: the platform rotates the projected token file in place.
        const file = tokenFromFile(config.aws.webIdentityTokenFile ?? "", { logger, what: "AWS web identity token file" });
        return { name: source, fetch: assumeRole(source, file, `the AWS web identity token file ${file.path}`, awsLabel(source)) };
      }
      case "azure-managed-identity": {
        const token = async () => (await imds.getToken(config.azure.tokenAudience)).token;
        return { name: source, fetch: assumeRole(source, token, `the managed identity token for ${config.azure.tokenAudience}`, awsLabel(source)) };
      }
      case "roles-anywhere": {
        const ra = config.identity.rolesAnywhere;
        // Every setting is present: `missing` was empty. Certificate files are re-read when rotated,
        // and checked (validity, chain to the trust anchor, expected CN) before each CreateSession.
        const fetch = rolesAnywhereFetcher(
          {
            region: ra.region ?? config.aws.stsRegion,
            trustAnchorArn: ra.trustAnchorArn ?? "",
            profileArn: ra.profileArn ?? "",
            roleArn: config.aws.roleArn,
            expectedCommonName: ra.expectedCommonName ?? "",
            certificateFile: ra.certificateFile ?? "",
            privateKeyFile: ra.privateKeyFile ?? "",
            trustAnchorFile: ra.trustAnchorFile ?? "",
            ...(ra.chainFile ? { chainFile: ra.chainFile } : {}),
            ...(ra.endpoint ? { endpoint: ra.endpoint } : {}),
            sessionName: `${config.ownSessionPrefix}${config.cell}`,
            durationSeconds: config.aws.sessionDurationSeconds,
          },
          { source, logger },
        );
        return { name: source, fetch };
      }
    }
  });
  const aws = chainedAwsCredentials(new CredentialChain(awsSources, chainOptions("aws")));

  const { tenantId, clientId, authorityHost, caFile, federatedTokenFile } = config.azure;
  const app: EntraApplication = {
    tenantId: tenantId ?? "",
    clientId: clientId ?? "",
    ...(authorityHost ? { authorityHost } : {}),
    ...(caFile ? { caFile } : {}),
  };
  const viaEntra = (source: string, assertion: AssertionSource): ChainSource<AzureTokenRequest, AzureAccessToken> => ({
    name: source,
    fetch: entraAssertionFetcher(app, assertion, { logger, clockSkew: { guard: skew, source: `azure/${source}` } }),
  });
  const azureSources = config.identity.azure.map(({ source, missing }): ChainSource<AzureTokenRequest, AzureAccessToken> => {
    if (missing.length > 0) return unconfiguredSource(source, missing);
    switch (source) {
      case "managed-identity":
        return managedIdentitySource(imds, source);
      case "client-assertion":
        return viaEntra(source, fileAssertion(tokenFromFile(federatedTokenFile ?? "", { logger, what: "client assertion token file" })));
      case "aws-web-identity-token":
        // AWS outbound identity federation: STS mints the assertion, signed with the AWS chain's credentials.
        return viaEntra(
          source,
          stsWebIdentityToken(
            {
              region: config.aws.stsRegion,
              ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}),
              audience: config.identity.webIdentityToken.audience,
              durationSeconds: config.identity.webIdentityToken.durationSeconds,
            },
            aws,
            { logger },
          ),
        );
    }
  });
  const azure = chainedTokenCredential(new CredentialChain(azureSources, chainOptions("azure")));
  logger.info(
    {
      aws: config.identity.aws.map(describeEntry),
      azure: config.identity.azure.map(describeEntry),
      clockSkewToleranceSeconds: config.identity.clockSkewToleranceSeconds,
    },
    "identity chains configured",
  );
  return { aws, azure, identityEvents };
}

function describeEntry(entry: { source: string; missing: readonly string[] }): string {
  return entry.missing.length === 0 ? entry.source : `${entry.source} (not configured: ${entry.missing.join(", ")})`;
}

/**
 * Vault adapters, one per AWS account/region and per Key Vault URL, created on first use, each
 * behind its vault's rate limiter (README "Throttling"), each call attempt bounded by
 * `CREDMESH_CLOUD_ATTEMPT_TIMEOUT_MS` (the SDKs' own timeouts are unset; the adapters abort).
 */
export function buildVaults(config: ReplicatorConfig, credentials: Pick<Credentials, "aws" | "azure">, metrics: Metrics) {
  const limits = new VaultRateLimits(config.throttle, metrics);
  // The cell's AWS calls all run in its role's account: Secrets Manager quotas are per account and region.
  const awsAccount = config.aws.roleArn.split(":")[4] ?? "";
  const awsVaults = new Map<string, VaultPort>();
  const keyVaults = new Map<string, VaultPort>();
  const awsClients: SecretsManagerClient[] = [];
  const awsVault = (region: string): VaultPort => {
    let vault = awsVaults.get(region);
    if (!vault) {
      const client = new SecretsManagerClient({
        region,
        credentials: credentials.aws,
        maxAttempts: 1,
        ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}),
      });
      awsClients.push(client);
      vault = limits.wrap(new SecretsManagerVault(client, metrics, { attemptTimeoutMs: config.cloudAttemptTimeoutMs }), `aws/${awsAccount}/${region}`);
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
      vault = limits.wrap(
        new KeyVaultVault(client, { metrics, pollIntervalMs: config.azure.pollIntervalMs, attemptTimeoutMs: config.cloudAttemptTimeoutMs }),
        new URL(vaultUrl).host,
      );
      keyVaults.set(vaultUrl, vault);
    }
    return vault;
  };
  return {
    /**
     * Forgets every adapter and SDK client, so the next call builds new ones: SDK clients memoise
     * the last credentials they were given, which a quarantine must not outlive.
     */
    reset(): void {
      awsClients.forEach((client) => client.destroy());
      awsClients.length = 0;
      awsVaults.clear();
      keyVaults.clear();
    },
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
