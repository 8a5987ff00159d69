import { AssumeRoleWithWebIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@aws-sdk/types";
import { CredmeshError } from "@credmesh/errors";
import type { Logger, Sensitive } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { CachedCredential, DEFAULT_REFRESH, type RefreshPolicy } from "./cached-token.ts";
import { stsError } from "./sts-errors.ts";

export interface WebIdentityConfig {
  /** The IAM role trusted for the OIDC issuer. */
  roleArn: string;
  /** Identifies the cell in CloudTrail (`assumed-role/<Role>/<session>`), used for echo detection. */
  sessionName: string;
  durationSeconds: number;
  /** STS region and, for emulators, endpoint. */
  region: string;
  endpoint?: string;
  refresh?: RefreshPolicy;
}

/** Temporary AWS credentials with their expiry, as a chain or cache holds them. */
export type AwsCredentials = AwsCredentialIdentity & { expiration: Date; expiresAt: Date };

export interface WebIdentityFetchOptions {
  /** Counted under `source` (default `aws-web-identity`); chains count for themselves and pass none. */
  metrics?: Pick<Metrics, "credentialRefreshes" | "credentialExpiry">;
  source?: string;
  logger?: Logger;
  /** Runs on the token before it is sent (the clock skew check); throws to refuse it. */
  beforeUse?: (token: Sensitive<string>) => void;
}

/**
 * One STS AssumeRoleWithWebIdentity call per invocation, fed by a web identity token: an Azure
 * managed-identity token with audience api://AzureADTokenExchange, or, on EKS (IRSA), the projected
 * service-account token read with `tokenFromFile`. No AWS key is stored: the call is unsigned and
 * authorised by the token. Not cached: {@link webIdentityCredentials} or a credential chain caches.
 */
export function webIdentityFetcher(
  config: WebIdentityConfig,
  token: () => Promise<Sensitive<string>>,
  options: WebIdentityFetchOptions = {},
): () => Promise<AwsCredentials> {
  const sts = new STSClient({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    // The call is authorised by the web identity token itself; no signing credentials exist.
    credentials: { accessKeyId: "", secretAccessKey: "" },
    signer: { sign: async (request) => request },
    maxAttempts: 1,
  });
  const source = options.source ?? "aws-web-identity";
  return async () => {
    try {
      // Inside the try, so that a token source failure (e.g. an unreadable token file) is counted too.
      const webIdentityToken = await token();
      options.beforeUse?.(webIdentityToken);
      const output = await sts.send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: config.roleArn,
          RoleSessionName: config.sessionName,
          WebIdentityToken: webIdentityToken.reveal(),
          DurationSeconds: config.durationSeconds,
        }),
      );
      const c = output.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
        throw new CredmeshError("identity_unavailable", "STS AssumeRoleWithWebIdentity returned no credentials");
      }
      options.metrics?.credentialRefreshes.inc({ source, outcome: "success" });
      options.metrics?.credentialExpiry.set({ source }, Math.floor(c.Expiration.getTime() / 1000));
      options.logger?.info(
        { source, role: config.roleArn, session: config.sessionName, expiresAt: c.Expiration.toISOString() },
        "assumed AWS role with web identity",
      );
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration,
        expiresAt: c.Expiration,
      };
    } catch (error) {
      const failure = stsError("sts AssumeRoleWithWebIdentity", error);
      options.metrics?.credentialRefreshes.inc({ source, outcome: failure.reason });
      throw failure;
    }
  };
}

/**
 * AWS credentials by STS AssumeRoleWithWebIdentity ({@link webIdentityFetcher}), cached and
 * refreshed before expiry, so STS sees about one call per credential lifetime.
 */
export function webIdentityCredentials(
  config: WebIdentityConfig,
  token: () => Promise<Sensitive<string>>,
  options: { metrics?: Pick<Metrics, "credentialRefreshes" | "credentialExpiry">; logger?: Logger } = {},
): AwsCredentialIdentityProvider & { invalidate(): void } {
  const cache = new CachedCredential<AwsCredentials>(webIdentityFetcher(config, token, options), config.refresh ?? DEFAULT_REFRESH);
  const provider = async (): Promise<AwsCredentialIdentity> => {
    const { expiresAt: _expiresAt, ...credentials } = await cache.get();
    return credentials;
  };
  return Object.assign(provider, { invalidate: () => cache.invalidate() });
}
