import { GetWebIdentityTokenCommand, STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentityProvider } from "@aws-sdk/types";
import { CredmeshError } from "@credmesh/errors";
import { Sensitive, type Logger } from "@credmesh/logging";
import type { AssertionSource } from "./client-assertion.ts";
import { AZURE_TOKEN_EXCHANGE_AUDIENCE } from "./managed-identity.ts";
import { stsError } from "./sts-errors.ts";

/** STS GetWebIdentityToken's default and bounds for the token lifetime. */
export const WEB_IDENTITY_TOKEN_DURATION = { default: 300, min: 60, max: 3_600 } as const;

export interface StsWebIdentityTokenConfig {
  /**
   * STS region. GetWebIdentityToken is not served by the global endpoint; the SDK uses the
   * regional one (sts.<region>.amazonaws.com).
   */
  region: string;
  /** Endpoint override (emulators only). */
  endpoint?: string;
  /** The token's `aud`: what the Entra federated identity credential expects. Default api://AzureADTokenExchange. */
  audience?: string;
  /** Token lifetime, 60–3600 s; default 300. */
  durationSeconds?: number;
}

/**
 * Client assertions minted by AWS STS GetWebIdentityToken (IAM outbound identity federation): a
 * JWT for `audience`, signed by the account's STS issuer (`https://<id>.tokens.sts.global.api.aws`)
 * and naming the caller's role ARN as `sub`, which an Entra federated identity credential trusts.
 * The call is signed (SigV4) with the cell's own AWS credentials — the AWS credential chain — so no
 * token file and no Kubernetes issuer is needed: any AWS principal allowed
 * `sts:GetWebIdentityToken` can reach Key Vault.
 *
 * Every call mints a new token (nothing is cached: Entra is asked once per access-token lifetime,
 * and the token lives five minutes by default). Failures are classified CredmeshErrors
 * ({@link stsError}); when STS says the caller's credentials expired, they are invalidated so the
 * next attempt refreshes them.
 *
 * @see ../../../shared/SPEC.md section 3 (AWS → Azure)
 */
export function stsWebIdentityToken(
  config: StsWebIdentityTokenConfig,
  credentials: AwsCredentialIdentityProvider & { invalidate?: () => void },
  deps: { logger?: Logger; client?: Pick<STSClient, "send"> } = {},
): AssertionSource {
  const durationSeconds = config.durationSeconds ?? WEB_IDENTITY_TOKEN_DURATION.default;
  if (!Number.isInteger(durationSeconds) || durationSeconds < WEB_IDENTITY_TOKEN_DURATION.min || durationSeconds > WEB_IDENTITY_TOKEN_DURATION.max) {
    throw new CredmeshError("configuration", `STS web identity token duration must be 60–3600 seconds (got ${String(config.durationSeconds)})`);
  }
  const audience = config.audience ?? AZURE_TOKEN_EXCHANGE_AUDIENCE;
  const sts =
    deps.client ??
    new STSClient({
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      credentials,
      maxAttempts: 1,
    });
  const what = `STS GetWebIdentityToken (audience ${audience}, region ${config.region})`;
  const mint = async (): Promise<Sensitive<string>> => {
    let token: string | undefined;
    let expiration: Date | undefined;
    try {
      const output = await sts.send(
        new GetWebIdentityTokenCommand({ Audience: [audience], DurationSeconds: durationSeconds, SigningAlgorithm: "RS256" }),
      );
      token = output.WebIdentityToken;
      expiration = output.Expiration;
    } catch (error) {
      const failure = stsError("sts GetWebIdentityToken", error);
      if (failure.code === "ExpiredTokenException" || failure.code === "ExpiredToken") credentials.invalidate?.();
      throw failure;
    }
    if (!token) throw new CredmeshError("identity_unavailable", "STS GetWebIdentityToken returned no token");
    deps.logger?.debug({ audience, region: config.region, expiresAt: expiration?.toISOString() }, "minted an AWS web identity token");
    return new Sensitive(token);
  };
  return Object.assign(mint, { what, freshlyIssued: true });
}
