import { CredmeshError, classify, stripNamespace, type ReasonCode } from "@credmesh/errors";

/**
 * STS errors of the identity calls (AssumeRoleWithWebIdentity, GetWebIdentityToken) with a fixed
 * meaning, by the exception name the AWS SDK raises (and the Query protocol's bare code). They take
 * precedence over the shared cloud tables, which do not know the `…Exception` spellings STS uses.
 */
export const STS_ERROR_REASONS: Readonly<Record<string, ReasonCode>> = {
  // The web identity token was refused: issuer, audience, subject, signature or claims.
  InvalidIdentityTokenException: "unauthenticated",
  InvalidIdentityToken: "unauthenticated",
  IDPRejectedClaimException: "unauthenticated",
  IDPRejectedClaim: "unauthenticated",
  // STS could not reach the token issuer's OIDC endpoints: the issuer may come back.
  IDPCommunicationErrorException: "identity_unavailable",
  IDPCommunicationError: "identity_unavailable",
  // The caller's credentials expired (GetWebIdentityToken) or the token did (AssumeRoleWithWebIdentity):
  // a refresh or the platform's next rotation cures it.
  ExpiredTokenException: "credentials_expired",
  ExpiredToken: "credentials_expired",
  // GetWebIdentityToken: the requested token would outlive the caller's session; it works again
  // once the caller's credentials are refreshed.
  SessionDurationEscalationException: "credentials_expired",
  // GetWebIdentityToken: outbound identity federation is not enabled for the account.
  OutboundWebIdentityFederationDisabledException: "configuration",
  JWTPayloadSizeExceededException: "validation",
  RegionDisabledException: "configuration",
  PackedPolicyTooLargeException: "validation",
  AccessDenied: "access_denied",
  AccessDeniedException: "access_denied",
};

/** The classified, secret-free error of a failed STS identity call (`what` names the call). */
export function stsError(what: string, error: unknown): CredmeshError {
  if (error instanceof CredmeshError) return error;
  const e = error as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number } };
  const name = typeof e.name === "string" ? stripNamespace(e.name) : undefined;
  const status = e.$metadata?.httpStatusCode;
  const reason = name === undefined ? undefined : STS_ERROR_REASONS[name];
  if (reason !== undefined) {
    return new CredmeshError(reason, `${what} failed (${name}${status === undefined ? "" : `, HTTP ${status}`})`, {
      cause: error,
      code: name,
      ...(status === undefined ? {} : { status }),
    });
  }
  return classify(what, { status, code: name, nodeCode: typeof e.code === "string" ? e.code : undefined }, error);
}
