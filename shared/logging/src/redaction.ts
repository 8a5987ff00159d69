import { REDACTED } from "./sensitive.ts";

/**
 * Field paths pino blanks in every log line, in case a plain object carrying a secret reaches a
 * logger despite the Sensitive type. One list, used by every service.
 */
export const REDACT_PATHS: readonly string[] = [
  "value",
  "*.value",
  "secret",
  "*.secret",
  "secretString",
  "*.secretString",
  "SecretString",
  "*.SecretString",
  "SecretBinary",
  "*.SecretBinary",
  "secretBinary",
  "*.secretBinary",
  "password",
  "*.password",
  "token",
  "*.token",
  "accessToken",
  "*.accessToken",
  "access_token",
  "*.access_token",
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "credentials",
  "*.credentials",
  "SessionToken",
  "*.SessionToken",
  "SecretAccessKey",
  "*.SecretAccessKey",
  "clientAssertion",
  "*.clientAssertion",
];

/**
 * HTTP headers that may appear in logs. Everything else — authorization, API keys, custom
 * connection headers that EventBridge may mark secret — is dropped, not blanked, so that a
 * newly added secret header is safe by default.
 */
export const LOGGABLE_HEADERS: ReadonlySet<string> = new Set([
  "content-type",
  "content-length",
  "user-agent",
  "aeg-event-type",
  "aeg-subscription-name",
  "aeg-delivery-count",
  "aeg-data-version",
  "aeg-metadata-version",
  "webhook-request-origin",
  "x-request-id",
  "x-amzn-trace-id",
  "traceparent",
]);

export function loggableHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || !LOGGABLE_HEADERS.has(lower)) continue;
    out[lower] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

export { REDACTED };
