/**
 * The CloudEvents webhook abuse-protection handshake (Event Grid with the CloudEvents schema):
 * `OPTIONS <endpoint>` with `WebHook-Request-Origin`, answered 200 with `WebHook-Allowed-Origin`
 * when the origin is one we accept. Pure: headers in, status and headers out.
 * @see ../../../../../shared/FORMATS.md section D and
 * https://github.com/cloudevents/spec/blob/v1.0/http-webhook.md#4-abuse-protection
 */
export const DEFAULT_ALLOWED_ORIGINS: readonly string[] = ["eventgrid.azure.net"];

export const ALLOW_METHODS = "POST, OPTIONS";

export type AbuseProtectionAnswer =
  | { readonly status: 200; readonly origin: string; readonly headers: Readonly<Record<string, string>> }
  | { readonly status: 400 | 403; readonly code: "missing_origin" | "origin_not_allowed"; readonly message: string; readonly headers: Readonly<Record<string, string>> };

/**
 * Answers the handshake. `allowedOrigins` are compared case-insensitively; `*` allows every
 * origin. The answer names the requested origin, as the fixture's exchange does, and allows any
 * rate: ingest's own limits (body cap, bounded publishing) apply per request.
 */
export function answerAbuseProtection(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  allowedOrigins: readonly string[],
): AbuseProtectionAnswer {
  const raw = headers["webhook-request-origin"];
  const origin = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  const allow = { Allow: ALLOW_METHODS };
  if (origin === undefined || origin === "") {
    return { status: 400, code: "missing_origin", message: "WebHook-Request-Origin is required", headers: allow };
  }
  const allowed = allowedOrigins.some((candidate) => candidate === "*" || candidate.toLowerCase() === origin.toLowerCase());
  if (!allowed) {
    return { status: 403, code: "origin_not_allowed", message: "this origin may not deliver events here", headers: allow };
  }
  return {
    status: 200,
    origin,
    headers: { "WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*", ...allow },
  };
}
