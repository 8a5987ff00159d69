import { CredmeshError, NODE_NETWORK_CODES, type ReasonCode } from "@credmesh/errors";

/**
 * Classification of failures of a Microsoft Entra token request made through @azure/identity and
 * MSAL, as pure lookups over constant tables. Only codes are read: the error texts of Entra, MSAL
 * and the HTTP pipeline are never copied, because they can quote request details.
 */

/**
 * AADSTS error numbers (Entra's `error_codes`) with a fixed meaning for a client-credentials request
 * with a federated client assertion. They take precedence over the OAuth `error` code.
 */
export const AADSTS_REASONS: Readonly<Record<number, { reason: ReasonCode; hint: string }>> = {
  700211: { reason: "unauthenticated", hint: "no federated identity credential of the app trusts the assertion's issuer" },
  700212: { reason: "unauthenticated", hint: "no federated identity credential of the app matches the assertion's audience" },
  700213: { reason: "unauthenticated", hint: "no federated identity credential of the app matches the assertion's subject" },
  7002138: { reason: "unauthenticated", hint: "the assertion's subject matches a federated identity credential only case-insensitively" },
  70021: { reason: "unauthenticated", hint: "no federated identity credential of the app matches the assertion" },
  700024: { reason: "unauthenticated", hint: "the assertion is expired or not yet valid" },
  700027: { reason: "unauthenticated", hint: "the assertion's signature does not verify against the issuer's keys" },
  50027: { reason: "unauthenticated", hint: "the assertion is not a well-formed JWT" },
  700016: { reason: "unauthenticated", hint: "the client id is not an application in the tenant" },
  7000216: { reason: "unauthenticated", hint: "the request carried no client assertion" },
  90002: { reason: "configuration", hint: "the tenant does not exist" },
  1002012: { reason: "configuration", hint: "the scope is not valid for the client-credentials flow" },
  // Entra could not reach the issuer's discovery document or keys: the issuer may come back.
  90061: { reason: "identity_unavailable", hint: "Entra could not reach the assertion issuer's OpenID endpoints" },
};

/** OAuth 2.0 / Entra `error` values (RFC 6749 §5.2), used when no AADSTS number is known. */
const OAUTH_ERROR_REASONS: Readonly<Record<string, ReasonCode>> = {
  invalid_client: "unauthenticated",
  unauthorized_client: "unauthenticated",
  invalid_grant: "unauthenticated",
  invalid_request: "validation",
  invalid_scope: "configuration",
  unsupported_grant_type: "configuration",
  temporarily_unavailable: "identity_unavailable",
  server_error: "identity_unavailable",
};

/** MSAL client-side error codes (`AuthError.errorCode`) that are not answers from Entra. */
const MSAL_CLIENT_ERROR_REASONS: Readonly<Record<string, ReasonCode>> = {
  // The authority's OpenID configuration could not be fetched or parsed.
  openid_config_error: "identity_unavailable",
  endpoints_resolution_error: "identity_unavailable",
  network_error: "identity_unavailable",
  untrusted_authority: "configuration",
  invalid_authority_metadata: "configuration",
  issuer_validation_failed: "configuration",
  url_parse_error: "configuration",
  empty_url_error: "configuration",
  missing_tenant_id_error: "configuration",
};

/** Node.js TLS verification failures, as the HTTP pipeline reports them in `RestError.code`. */
const TLS_ERROR_CODES: ReadonlySet<string> = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** What could be learnt about a failure, codes only. */
export interface EntraFailureFacts {
  /** Entra's first `error_codes` entry (the AADSTS number). */
  aadsts?: number | undefined;
  /** OAuth `error` from Entra, or MSAL's client-side `errorCode`. */
  error?: string | undefined;
  /** True when `error` came from Entra, false when MSAL raised it itself. */
  fromServer?: boolean | undefined;
  status?: number | undefined;
  /** Node.js socket/TLS error code of a transport failure. */
  nodeCode?: string | undefined;
  /**
   * @azure/identity raised a CredentialUnavailableError: MSAL could not resolve the authority's
   * endpoints (authority unreachable, TLS not trusted, instance discovery impossible). The SDK
   * keeps no code or cause for it, only this type.
   */
  credentialUnavailable?: boolean | undefined;
}

const UNAVAILABLE_HINT =
  "the authority's OpenID configuration could not be fetched (check authorityHost, caFile, instance discovery and the network)";

/** The reason a failed token request maps to. */
export function entraReason(facts: EntraFailureFacts): ReasonCode {
  if (facts.aadsts !== undefined) {
    const known = AADSTS_REASONS[facts.aadsts];
    if (known) return known.reason;
  }
  if (facts.error !== undefined) {
    const table = facts.fromServer ? OAUTH_ERROR_REASONS : MSAL_CLIENT_ERROR_REASONS;
    const byError = table[facts.error];
    if (byError) return byError;
  }
  if (facts.credentialUnavailable) return "identity_unavailable";
  if (facts.status === 429) return "throttled";
  if (facts.status !== undefined && facts.status >= 500) return "identity_unavailable";
  // Every transport failure, TLS included, is "the identity provider is unreachable": TLS
  // trust problems are configuration in practice, but they are also what an intercepting proxy
  // outage looks like, and retrying is harmless.
  if (facts.nodeCode !== undefined) return "identity_unavailable";
  if (facts.status === 400 || facts.status === 401) return "unauthenticated";
  return "internal";
}

/**
 * Extracts codes from whatever @azure/identity threw (AuthenticationRequiredError,
 * CredentialUnavailableError, ...) by walking its `cause` chain to the MSAL error or the
 * pipeline's RestError. Returns a CredmeshError found on the way as is (our own assertion reader
 * failed inside MSAL's callback).
 */
export function entraFailureFacts(error: unknown): EntraFailureFacts | CredmeshError {
  const facts: EntraFailureFacts = {};
  const seen = new Set<unknown>();
  for (let current: unknown = error; current !== null && typeof current === "object" && !seen.has(current); ) {
    seen.add(current);
    if (current instanceof CredmeshError) return current;
    const e = current as Record<string, unknown>;
    const name = typeof e["name"] === "string" ? e["name"] : "";
    if (name === "CredentialUnavailableError") facts.credentialUnavailable = true;
    if (name === "ServerError" || name === "InteractionRequiredAuthError") {
      facts.fromServer = true;
      if (typeof e["errorCode"] === "string" && e["errorCode"] !== "") facts.error = e["errorCode"];
      const errorNo = Number(e["errorNo"]);
      if (Number.isInteger(errorNo) && errorNo > 0) facts.aadsts = errorNo;
      if (typeof e["status"] === "number") facts.status = e["status"];
    } else if (typeof e["errorCode"] === "string" && facts.error === undefined) {
      facts.error = e["errorCode"];
      facts.fromServer = false;
    }
    if (name === "RestError" || name === "AuthenticationError") {
      const status = e["statusCode"];
      if (typeof status === "number" && facts.status === undefined) facts.status = status;
    }
    const code = e["code"];
    if (typeof code === "string" && (NODE_NETWORK_CODES.has(code) || TLS_ERROR_CODES.has(code))) facts.nodeCode ??= code;
    current = e["cause"] ?? e["originalError"];
  }
  return facts;
}

/**
 * The classified, secret-free error for a failed token request. The message is written from
 * identifiers and codes only, plus a hint from {@link AADSTS_REASONS}; no cause is attached,
 * since SDK errors carry the request (and so the assertion) in their fields.
 */
export function entraError(what: string, error: unknown): CredmeshError {
  const facts = entraFailureFacts(error);
  if (facts instanceof CredmeshError) return facts;
  const reason = entraReason(facts);
  const code = facts.aadsts !== undefined ? `AADSTS${facts.aadsts}` : (facts.error ?? facts.nodeCode);
  const detail = [
    facts.error,
    facts.aadsts === undefined ? undefined : `AADSTS${facts.aadsts}`,
    facts.status === undefined ? undefined : `HTTP ${facts.status}`,
    facts.nodeCode !== undefined && facts.nodeCode !== facts.error ? facts.nodeCode : undefined,
  ].filter((part) => part !== undefined);
  const hint =
    (facts.aadsts === undefined ? undefined : AADSTS_REASONS[facts.aadsts]?.hint) ??
    (facts.credentialUnavailable && facts.error === undefined ? UNAVAILABLE_HINT : undefined);
  const message = `${what} failed${detail.length > 0 ? ` (${detail.join(", ")})` : ""}${hint ? `: ${hint}` : ""}`;
  return new CredmeshError(reason, message, {
    ...(code === undefined ? {} : { code }),
    ...(facts.status === undefined ? {} : { status: facts.status }),
  });
}
