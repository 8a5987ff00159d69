/**
 * Every reason credmesh gives for a failure, as a constant table. Retryability is part of the
 * reason, so callers never decide it from message text.
 * @see ../../../README.md#errors-and-retries
 */
export const REASONS = {
  // Retryable: the same request may succeed later.
  throttled: { retryable: true, summary: "the service throttled the request" },
  unavailable: { retryable: true, summary: "the service is temporarily unavailable" },
  network: { retryable: true, summary: "the connection failed" },
  timeout: { retryable: true, summary: "the request timed out" },
  credentials_expired: { retryable: true, summary: "the credentials expired or are being refreshed" },
  operation_in_progress: { retryable: true, summary: "a previous operation on the object is still in progress" },
  bus_unavailable: { retryable: true, summary: "the message bus cannot take the message now" },
  identity_unavailable: { retryable: true, summary: "the identity provider is unreachable" },
  quarantined: { retryable: true, summary: "the cell is quarantined: its identity is not used until an operator releases it" },
  // Permanent: retrying the same request cannot help; a person or a rule change must.
  access_denied: { retryable: false, summary: "the identity is not allowed to do this" },
  unauthenticated: { retryable: false, summary: "the identity was not accepted" },
  not_found: { retryable: false, summary: "the object does not exist" },
  validation: { retryable: false, summary: "the request was rejected as invalid" },
  value_too_large: { retryable: false, summary: "the secret value exceeds the destination's size limit" },
  name_collision: { retryable: false, summary: "two source secrets map to the same destination name" },
  unmanaged_destination: { retryable: false, summary: "the destination secret is not managed by credmesh" },
  deleted_in_destination: { retryable: false, summary: "the destination secret is deleted and the policy forbids recovery" },
  invalid_event: { retryable: false, summary: "the message is not a valid credmesh event" },
  out_of_scope: { retryable: false, summary: "the message names something outside this consumer's configuration (a secret no rule of it covers, another destination or cell)" },
  configuration: { retryable: false, summary: "the configuration is invalid" },
  internal: { retryable: false, summary: "an unexpected internal error" },
} as const satisfies Record<string, { retryable: boolean; summary: string }>;

export type ReasonCode = keyof typeof REASONS;

export function isReasonCode(value: string): value is ReasonCode {
  return Object.hasOwn(REASONS, value);
}
