/**
 * The slice of Microsoft Graph that quarantine uses: read and update a service principal's
 * `accountEnabled` (`GET`/`PATCH /v1.0/servicePrincipals/{id}` and the alternate key
 * `/v1.0/servicePrincipals(appId='{appId}')`). Requests need an app-only token for
 * `https://graph.microsoft.com` carrying an application permission that may write service
 * principals; answers and errors have Graph's shapes (`{ error: { code, message, innerError } }`).
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { JWTPayload } from "jose";
import type { JsonResponse } from "./http.ts";
import { GRAPH_RESOURCE, type ServicePrincipals } from "./principals.ts";

const WRITE_ROLES = new Set(["Application.ReadWrite.All", "Application.ReadWrite.OwnedBy", "Directory.ReadWrite.All"]);
const READ_ROLES = new Set([...WRITE_ROLES, "Application.Read.All", "Directory.Read.All"]);

export interface GraphContext {
  readonly principals: ServicePrincipals;
  /** Verifies a bearer token of this tenant for `audience`; undefined when it is not valid. */
  readonly verify: (token: string, audience: string) => Promise<JWTPayload | undefined>;
}

/** Answers `/v1.0/servicePrincipals...`, or undefined for any other path. */
export async function handleGraphRequest(context: GraphContext, method: string, url: URL, headers: IncomingHttpHeaders, body: string | undefined): Promise<JsonResponse | undefined> {
  const match = /^\/v1\.0\/servicePrincipals(?:\/([0-9a-fA-F-]{36})|\(appId='([0-9a-fA-F-]{36})'\))$/.exec(url.pathname);
  if (!url.pathname.startsWith("/v1.0/servicePrincipals")) return undefined;
  const token = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "")?.[1];
  const claims = token === undefined ? undefined : await context.verify(token, GRAPH_RESOURCE);
  if (!claims) return graphError(401, "InvalidAuthenticationToken", token === undefined ? "Access token is empty." : "Access token validation failure. Invalid audience.");
  if (!match) return graphError(400, "BadRequest", `Resource not found for the segment '${url.pathname.split("/").at(-1) ?? ""}'.`);
  const principal = match[1] !== undefined ? context.principals.byObjectId(match[1]) : context.principals.byAppId(match[2] ?? "");
  const roles = Array.isArray(claims.roles) ? claims.roles.filter((role): role is string => typeof role === "string") : [];
  if (method === "GET") {
    if (!roles.some((role) => READ_ROLES.has(role))) return graphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.");
    if (!principal) return notFound(match[1] ?? match[2] ?? "");
    return { status: 200, body: { "@odata.context": `${GRAPH_RESOURCE}/v1.0/$metadata#servicePrincipals/$entity`, id: principal.objectId, appId: principal.appId, displayName: principal.displayName, accountEnabled: principal.accountEnabled } };
  }
  if (method !== "PATCH") return graphError(405, "Request_BadRequest", `The HTTP method '${method}' is not supported here.`);
  if (!roles.some((role) => WRITE_ROLES.has(role))) return graphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.");
  if (!principal) return notFound(match[1] ?? match[2] ?? "");
  let patch: unknown;
  try {
    patch = JSON.parse(body ?? "");
  } catch {
    return graphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
  }
  const enabled = (patch as { accountEnabled?: unknown } | null)?.accountEnabled;
  if (typeof enabled !== "boolean") return graphError(400, "Request_BadRequest", "Invalid value specified for property 'accountEnabled' of resource 'ServicePrincipal'.");
  principal.accountEnabled = enabled;
  return { status: 204 };
}

function notFound(id: string): JsonResponse {
  return graphError(404, "Request_ResourceNotFound", `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
}

function graphError(status: number, code: string, message: string): JsonResponse {
  return {
    status,
    body: { error: { code, message, innerError: { date: new Date().toISOString().replace(/\.\d+Z$/, ""), "request-id": randomUUID(), "client-request-id": randomUUID() } } },
  };
}
