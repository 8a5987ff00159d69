/**
 * Entra's v2 token endpoint, as far as a workload federated from another cloud uses it:
 * `POST /<tenant>/oauth2/v2.0/token` with the client-credentials grant and a client assertion
 * (RFC 7521/7523), answered with Entra's success and error shapes.
 *
 * Parameter errors follow Entra's order: grant type, client id, scope, then the assertion. Error
 * texts other than those of {@link FederatedCredentials} are unverified stand-ins.
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { FederatedCredentials, FederatedExchange, EntraFailure } from "./federation.ts";
import { JWT_BEARER_ASSERTION_TYPE } from "./federation.ts";
import type { JsonResponse } from "./http.ts";
import type { TokenIssuer } from "./identity.ts";
import { disabledApplication, type ServicePrincipals } from "./principals.ts";

/** What the token route needs from the emulator. */
export interface EntraContext {
  readonly issuer: TokenIssuer;
  readonly federation: FederatedCredentials;
  readonly recordExchange: (exchange: FederatedExchange) => void;
  /** Disabled principals get no token (AADSTS7000112). */
  readonly principals?: ServicePrincipals;
}

/**
 * Answers `/<tenant>/oauth2/v2.0/token`, or returns undefined for any other path. `operation`
 * receives the name the request is counted under: `EntraToken` on success, `EntraTokenRejected`
 * on an error answer.
 */
export async function handleEntraRequest(
  context: EntraContext,
  method: string,
  url: URL,
  headers: IncomingHttpHeaders,
  body: string | undefined,
  operation: (name: string) => void,
): Promise<JsonResponse | undefined> {
  const match = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
  if (match === null) return undefined;
  const correlationId = correlationOf(headers);
  const answer = await tokenRequest(context, decodeURIComponent(match[1] ?? ""), method, headers, body);
  if ("failure" in answer) {
    operation("EntraTokenRejected");
    return entraError(answer.failure, correlationId);
  }
  operation("EntraToken");
  return { status: 200, headers: { "client-request-id": correlationId }, body: answer.body };
}

async function tokenRequest(
  context: EntraContext,
  tenant: string,
  method: string,
  headers: IncomingHttpHeaders,
  body: string | undefined,
): Promise<{ body: unknown } | { failure: EntraFailure }> {
  if (tenant.toLowerCase() !== context.issuer.tenantId.toLowerCase()) {
    return rejected(400, "invalid_request", 90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
  }
  if (method !== "POST") {
    return rejected(405, "invalid_request", 900561, `The endpoint only accepts POST, OPTIONS requests. Received a ${method} request.`);
  }
  const contentType = String(headers["content-type"] ?? "").toLowerCase();
  if (body === undefined || !contentType.startsWith("application/x-www-form-urlencoded")) {
    return rejected(400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.");
  }
  const form = new URLSearchParams(body);
  const missing = (name: string): { failure: EntraFailure } =>
    rejected(400, "invalid_request", 900144, `The request body must contain the following parameter: '${name}'.`);
  const grantType = form.get("grant_type");
  if (!grantType) return missing("grant_type");
  if (grantType !== "client_credentials") {
    return rejected(400, "unsupported_grant_type", 70003, `The app requested an unsupported grant type '${grantType}'.`);
  }
  const clientId = form.get("client_id");
  if (!clientId) return missing("client_id");
  const scope = form.get("scope");
  if (!scope) return missing("scope");
  const scopes = scope.split(" ").filter((s) => s !== "");
  const resource = scopes.length === 1 && scopes[0]?.endsWith("/.default") ? scopes[0].slice(0, -"/.default".length) : undefined;
  if (!resource) {
    return rejected(400, "invalid_scope", 1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
  }
  const assertion = form.get("client_assertion");
  if (!assertion) {
    return rejected(401, "invalid_client", 7000216,
      "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.");
  }
  if (form.get("client_assertion_type") !== JWT_BEARER_ASSERTION_TYPE) {
    return rejected(400, "invalid_request", 7000217, `'client_assertion_type' must be '${JWT_BEARER_ASSERTION_TYPE}'.`);
  }
  const check = await context.federation.check(clientId, assertion);
  if (!check.ok) return { failure: check.failure };
  const principal = context.principals?.byAppId(clientId);
  if (principal && !principal.accountEnabled) return { failure: disabledApplication(principal) };
  context.recordExchange({
    clientId,
    issuer: check.credential.issuer,
    subject: check.credential.subject,
    jti: typeof check.claims.jti === "string" ? check.claims.jti : undefined,
    at: new Date(),
  });
  return { body: await context.issuer.issueForApplication(resource, clientId) };
}

function rejected(status: number, error: string, code: number, text: string): { failure: EntraFailure } {
  return { failure: { status, error, code, description: `AADSTS${code}: ${text}` } };
}

/** Entra's error body: AADSTS text with trace and correlation ids, and the number in `error_codes`. */
function entraError(failure: EntraFailure, correlationId: string): JsonResponse {
  const traceId = randomUUID();
  const timestamp = new Date().toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  return {
    status: failure.status,
    headers: { "client-request-id": correlationId },
    body: {
      error: failure.error,
      error_description: `${failure.description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [failure.code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${failure.code}`,
    },
  };
}

/** MSAL sends its correlation id as `client-request-id`; Entra echoes it. */
function correlationOf(headers: IncomingHttpHeaders): string {
  const given = headers["client-request-id"];
  return typeof given === "string" && /^[0-9a-fA-F-]{36}$/.test(given) ? given : randomUUID();
}
