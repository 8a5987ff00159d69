export { REASONS, isReasonCode, type ReasonCode } from "./reasons.ts";
export {
  CredmeshError,
  isCredmeshError,
  toCredmeshError,
  type CredmeshErrorOptions,
  type ErrorRecord,
} from "./credmesh-error.ts";
export {
  CLOUD_CODE_REASONS,
  HTTP_STATUS_REASONS,
  NODE_NETWORK_CODES,
  classify,
  parseRetryAfter,
  reasonFor,
  stripNamespace,
  type FailureFacts,
} from "./classification.ts";
export {
  DEFAULT_BACKOFF,
  RETRY_AFTER_MAX_MS,
  RetryBudget,
  abortError,
  honouredRetryAfterMs,
  retryDelayMs,
  sleep,
  withRetry,
  type BackoffPolicy,
  type RetryOptions,
} from "./retry.ts";
export { AVAILABILITY_REASONS, isAvailabilityFailure } from "./availability.ts";
