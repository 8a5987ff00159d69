import { CredmeshError } from "./credmesh-error.ts";
import type { ReasonCode } from "./reasons.ts";

/**
 * Error classification as pure lookups over constant tables. Adapters extract what they know of
 * a failure (HTTP status, the cloud's code, the Node error code, Retry-After) and call
 * {@link classify}; nothing here looks at message text.
 */

/** HTTP statuses with a fixed meaning. Anything else >= 500 is `unavailable`. */
export const HTTP_STATUS_REASONS: Readonly<Record<number, ReasonCode>> = {
  400: "validation",
  401: "unauthenticated",
  403: "access_denied",
  404: "not_found",
  408: "timeout",
  409: "validation",
  413: "value_too_large",
  422: "validation",
  429: "throttled",
  500: "unavailable",
  502: "unavailable",
  503: "unavailable",
  504: "timeout",
};

/** Node.js socket/DNS error codes: all transient from our point of view. */
export const NODE_NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/**
 * Cloud error codes that override the HTTP status. AWS throttling codes come from the Secrets
 * Manager user guide (reference_limits) and the smithy retry tables; Key Vault codes from its
 * REST error reference. See ../../../shared/FORMATS.md sections E and F.
 */
export const CLOUD_CODE_REASONS: Readonly<Record<string, ReasonCode>> = {
  // AWS: throttling and transient.
  ThrottlingException: "throttled",
  Throttling: "throttled",
  TooManyRequestsException: "throttled",
  RequestLimitExceeded: "throttled",
  RequestThrottled: "throttled",
  RequestThrottledException: "throttled",
  ProvisionedThroughputExceededException: "throttled",
  SlowDown: "throttled",
  RequestTimeout: "timeout",
  RequestTimeoutException: "timeout",
  PriorRequestNotComplete: "operation_in_progress",
  InternalServiceError: "unavailable",
  InternalFailure: "unavailable",
  ServiceUnavailable: "unavailable",
  ExpiredToken: "credentials_expired",
  ExpiredTokenException: "credentials_expired",
  IDPCommunicationError: "identity_unavailable",
  // AWS: permanent.
  AccessDeniedException: "access_denied",
  AccessDenied: "access_denied",
  UnrecognizedClientException: "unauthenticated",
  InvalidClientTokenId: "unauthenticated",
  InvalidIdentityToken: "unauthenticated",
  IDPRejectedClaim: "unauthenticated",
  ResourceNotFoundException: "not_found",
  InvalidParameterException: "validation",
  InvalidRequestException: "validation",
  ValidationException: "validation",
  MalformedPolicyDocumentException: "validation",
  PreconditionNotMetException: "validation",
  ResourceExistsException: "validation",
  EncryptionFailure: "access_denied",
  DecryptionFailure: "access_denied",
  // Azure Key Vault.
  Throttled: "throttled",
  ObjectIsBeingDeleted: "operation_in_progress",
  // A recovered secret refuses writes for a while after it reads as present (azure-sdk-for-net#31581).
  ObjectIsBeingRecovered: "operation_in_progress",
  SecretNotFound: "not_found",
  SecretDisabled: "access_denied",
  Forbidden: "access_denied",
  BadParameter: "validation",
  ObjectIsDeletedButRecoverable: "deleted_in_destination",
  // AWS uses LimitExceededException for rate limits as well as quotas (Secrets Manager guide,
  // reference_limits); it is retried, bounded by the retry budget and the delivery limit.
  LimitExceededException: "throttled",
};

export interface FailureFacts {
  /** HTTP status, if a response arrived. */
  status?: number | undefined;
  /** The cloud's error code (AWS `__type`/name, Key Vault `innererror.code` or `code`). */
  code?: string | undefined;
  /** Node.js error code of a transport failure. */
  nodeCode?: string | undefined;
  /** Server-requested wait in milliseconds. */
  retryAfterMs?: number | undefined;
  /** The request was aborted by our own deadline. */
  timedOut?: boolean | undefined;
}

/** The reason a failure maps to, without building an error. */
export function reasonFor(facts: FailureFacts): ReasonCode {
  if (facts.timedOut) return "timeout";
  if (facts.code !== undefined) {
    const byCode = CLOUD_CODE_REASONS[stripNamespace(facts.code)];
    if (byCode) return byCode;
  }
  if (facts.nodeCode !== undefined && NODE_NETWORK_CODES.has(facts.nodeCode)) return "network";
  if (facts.status !== undefined) {
    const byStatus = HTTP_STATUS_REASONS[facts.status];
    if (byStatus) return byStatus;
    if (facts.status >= 500) return "unavailable";
    if (facts.status >= 400) return "validation";
  }
  if (facts.nodeCode !== undefined) return "network";
  return "internal";
}

/** Builds the classified error for a failed call; `what` names the call, never a value. */
export function classify(what: string, facts: FailureFacts, cause?: unknown): CredmeshError {
  const reason = reasonFor(facts);
  const code = facts.code === undefined ? undefined : stripNamespace(facts.code);
  const detail = [code, facts.status === undefined ? undefined : `HTTP ${facts.status}`]
    .filter((part) => part !== undefined)
    .join(", ");
  return new CredmeshError(reason, detail ? `${what} failed (${detail})` : `${what} failed`, {
    cause,
    code,
    status: facts.status,
    retryAfterMs: facts.retryAfterMs,
  });
}

/** AWS JSON 1.1 `__type` values may carry a namespace: `com.amazonaws...#ThrottlingException`. */
export function stripNamespace(code: string): string {
  const hash = code.lastIndexOf("#");
  const colon = code.indexOf(":");
  const start = hash >= 0 ? hash + 1 : 0;
  return colon > start ? code.slice(start, colon) : code.slice(start);
}

/**
 * Parses a Retry-After header (delta-seconds or HTTP-date) into milliseconds from `now`.
 * Negative, malformed or absent values yield undefined.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // Every HTTP-date form has a time of day; Date.parse alone would read "-5" as a year.
  if (!/\d{2}:\d{2}:\d{2}/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
