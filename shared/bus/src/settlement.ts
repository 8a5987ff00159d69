import { type CredmeshError, retryDelayMs, toCredmeshError, type BackoffPolicy } from "@credmesh/errors";

/**
 * What to do with a JetStream message after its handler ran: the one place where the error
 * taxonomy meets the JetStream verbs (ack / nak with delay / term).
 */
export type Settlement =
  | { verb: "ack" }
  | { verb: "nak"; delayMs: number; error: CredmeshError }
  | { verb: "term"; error: CredmeshError; deadLetter: true };

/**
 * Pure mapping: success (no error) → ack; retryable and deliveries left → nak with backoff (Retry-After
 * first); permanent, or retryable with no deliveries left → term plus a dead-letter record.
 */
export function settle(
  error: unknown,
  deliveryCount: number,
  maxDeliver: number,
  policy?: BackoffPolicy,
): Settlement {
  if (error === undefined) return { verb: "ack" };
  const failure = toCredmeshError(error);
  if (failure.retryable && deliveryCount < maxDeliver) {
    return { verb: "nak", delayMs: retryDelayMs(deliveryCount, policy, failure.retryAfterMs), error: failure };
  }
  return { verb: "term", error: failure, deadLetter: true };
}
