import { CredmeshError, classify, parseRetryAfter } from "@credmesh/errors";

interface AwsSdkErrorShape {
  name?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $response?: { headers?: Record<string, string | undefined> };
}

/**
 * Maps an AWS SDK v3 failure to the taxonomy from its facts: the error name (the service's
 * `__type`, namespace stripped), the HTTP status, a Node socket code, Retry-After. The SDK's
 * message is kept only as the cause, never in the CredmeshError message.
 */
export function mapAwsError(operation: string, error: unknown): CredmeshError {
  // Already classified, e.g. by the credential provider the SDK called before sending.
  if (error instanceof CredmeshError) return error;
  const e = (typeof error === "object" && error !== null ? error : {}) as AwsSdkErrorShape;
  const status = typeof e.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : undefined;
  const nodeCode = typeof e.code === "string" ? e.code : undefined;
  const name = typeof e.name === "string" ? e.name : undefined;
  // Transport failures surface as plain Errors (name "Error", "TimeoutError") without a status.
  const cloudCode = status !== undefined && name !== undefined ? name : undefined;
  const retryAfter = e.$response?.headers?.["retry-after"];
  return classify(`secretsmanager ${operation}`, {
    status,
    code: cloudCode,
    nodeCode: nodeCode ?? (name === "TimeoutError" ? "ETIMEDOUT" : undefined),
    retryAfterMs: parseRetryAfter(retryAfter),
    timedOut: name === "AbortError",
  }, error);
}
