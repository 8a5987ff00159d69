import { JetStreamApiError } from "@nats-io/jetstream";

/**
 * JetStream refusals (4xx) that are not about the request and pass: 10158 "duplicate message id is
 * in process" (an earlier publish with this id is still being proposed — it may yet be stored, and
 * a later attempt gets its acknowledgement; a stream leader without a quorum answers it until the
 * quorum is back) and 10167 "too many requests" (the stream's ingest queue was full).
 */
const TRANSIENT_API_ERRORS: ReadonlySet<number> = new Set([10158, 10167]);

/**
 * Whether a failed JetStream request is worth another (a publish: with the same message id):
 * timeouts, no responders, a closed connection, a 5xx (no quorum, a leader being elected) and the
 * transient refusals above. Not JetStream refusing the request itself (wrong stream, message too
 * large, invalid configuration), which it would refuse again.
 */
export function isTransientBusFailure(error: unknown): boolean {
  if (!(error instanceof JetStreamApiError)) return true;
  return error.status >= 500 || TRANSIENT_API_ERRORS.has(error.code);
}
