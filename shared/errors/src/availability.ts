import { CredmeshError } from "./credmesh-error.ts";
import type { ReasonCode } from "./reasons.ts";

/**
 * Reasons that say "the service could not answer now" rather than "the service answered no":
 * throttling, outages (5xx), connection failures and timeouts. A reader may turn to a replica in
 * another cloud for these, and only for these. Every refusal — access denied, unauthenticated, not
 * found, validation, a secret scheduled for deletion — is the service's real answer: a replica
 * must not override it, or a quarantined or misconfigured cell would escape through the replica.
 *
 * Deliberately not here although retryable: `credentials_expired` and `identity_unavailable` (the
 * caller's own identity path is broken; a chain reports "no identity configured here" as
 * `identity_unavailable`, which a replica must not hide), `operation_in_progress` (the object is
 * busy, the service is up), `bus_unavailable` (not a cloud call).
 * @see ../../../shared/STYLE.md "Clients that fail over know why they fail"
 */
export const AVAILABILITY_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>(["throttled", "unavailable", "network", "timeout"]);

/** True when `error` is a classified failure of availability ({@link AVAILABILITY_REASONS}). */
export function isAvailabilityFailure(error: unknown): boolean {
  return error instanceof CredmeshError && AVAILABILITY_REASONS.has(error.reason);
}
