/**
 * HTTP endpoints of the identity stand-in: IMDS token, OpenID discovery, JWKS.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { JsonResponse } from "./http.ts";
import type { TokenIssuer } from "./identity.ts";
import { disabledApplication, type ServicePrincipals } from "./principals.ts";

/** The IMDS path, as on 169.254.169.254. */
const IMDS_TOKEN_PATH = "/metadata/identity/oauth2/token";

/**
 * Answers the identity endpoints, or returns undefined when `path` is not one of them.
 * `operation` receives the name the request is counted under.
 */
export async function handleIdentityRequest(
  issuer: TokenIssuer,
  method: string,
  url: URL,
  headers: IncomingHttpHeaders,
  operation: (name: string) => void,
  principals?: ServicePrincipals,
): Promise<JsonResponse | undefined> {
  const path = url.pathname;
  if (path === IMDS_TOKEN_PATH) {
    operation("GetToken");
    if (method !== "GET") return imdsError(405, "invalid_request", "Only GET is supported.");
    return issueToken(issuer, url, headers, principals);
  }
  if (method !== "GET") return undefined;
  if (path === `/${issuer.tenantId}/v2.0/.well-known/openid-configuration`) {
    operation("OpenIdConfiguration");
    return { status: 200, body: issuer.openIdConfiguration() };
  }
  if (path === `/${issuer.tenantId}/discovery/v2.0/keys`) {
    operation("Jwks");
    return { status: 200, body: issuer.jwks() };
  }
  return undefined;
}

async function issueToken(issuer: TokenIssuer, url: URL, headers: IncomingHttpHeaders, principals?: ServicePrincipals): Promise<JsonResponse> {
  // IMDS demands this header so that a server-side request forgery cannot fetch tokens; the first
  // error text is the documented one ("400 Bad Request, Required metadata header not specified").
  if (String(headers["metadata"] ?? "").toLowerCase() !== "true") {
    return imdsError(400, "invalid_request", "Required metadata header not specified");
  }
  if (!url.searchParams.get("api-version")) {
    return imdsError(400, "invalid_request", "Required query variable 'api-version' is missing");
  }
  const resource = url.searchParams.get("resource");
  if (!resource) return imdsError(400, "invalid_request", "Required audience parameter not specified");
  const clientId = url.searchParams.get("client_id") ?? undefined;
  // A managed identity is a service principal too: disabled, it gets Entra's refusal through IMDS.
  const principal = principals?.byAppId(issuer.identityFor(clientId).clientId);
  if (principal && !principal.accountEnabled) {
    const refusal = disabledApplication(principal);
    return imdsError(refusal.status, refusal.error, refusal.description);
  }
  return { status: 200, body: await issuer.issue(resource, clientId) };
}

/** IMDS errors are OAuth-style (`error`, `error_description`), not Key Vault-style. */
function imdsError(status: number, error: string, description: string): JsonResponse {
  return { status, body: { error, error_description: description } };
}
