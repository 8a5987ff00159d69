import type { AzureSecretRef, ScopeDecision } from "@credmesh/config";
import type { LifecycleEvent, MutationEvent } from "@credmesh/events";

/**
 * Why an Event Grid event was deliberately not put on the bus. The batch is still answered 200
 * (Event Grid must not retry it) and the reason is counted, so an operator sees what was dropped.
 * @see ../../../../../shared/SPEC.md section 2 (ingest)
 */
export const IGNORE_REASONS = {
  unsupported_event_type: "an event type credmesh does not act on (not one of the ten Key Vault types)",
  subscription_deleted: "Event Grid announces that the subscription was deleted; nothing changed in a vault",
} as const satisfies Record<string, string>;

export type IgnoreReason = keyof typeof IGNORE_REASONS;

/**
 * Why a delivery was refused. Each issue names a field path (with the event's index in a batch)
 * and never repeats a value from the body.
 */
export const REJECT_REASONS = {
  malformed_body: "the body is neither a JSON array of events nor a single event object",
  invalid_event: "an envelope field (id, eventType/type, eventTime/time, topic/source) is missing or malformed",
  unsupported_specversion: "a CloudEvent whose specversion is not 1.0",
  invalid_data: "the Key Vault data of an event is missing a field, has a malformed one, or contradicts the envelope",
  validation_mismatch: "a subscription validation event that is not alone in its delivery, or a delivery announced as a validation that is not one",
  schema_violation: "the canonical event built from the delivery breaks the event schema",
} as const satisfies Record<string, string>;

export type RejectReason = keyof typeof REJECT_REASONS;

/**
 * Every refusal is a 400. Event Grid retries every status except 400, 401, 403 and 413
 * (FORMATS.md D): a 422 for a body that can never succeed would be retried for 24 hours.
 */
export type RejectStatus = 400;

/** The HTTP status for each {@link RejectReason}; the HTTP layer maps with this table only. */
export const REJECT_STATUS = {
  malformed_body: 400,
  invalid_event: 400,
  unsupported_specversion: 400,
  invalid_data: 400,
  validation_mismatch: 400,
  schema_violation: 400,
} as const satisfies Record<RejectReason, RejectStatus>;

/** Why a Key Vault secret is not covered by any Azure → AWS rule. */
type OutOfScopeReason = Extract<ScopeDecision, { inScope: false }>["reason"];

/** Which event of a delivery an outcome is about: its position, Event Grid id and type. */
export interface EventRef {
  readonly index: number;
  readonly id: string;
  readonly eventType: string;
}

export interface MutationOutcome {
  readonly outcome: "mutation";
  readonly ref: EventRef;
  /** Validated and frozen; publish it with its id (the Event Grid id) as the JetStream message id. */
  readonly event: MutationEvent;
}

export interface LifecycleOutcome {
  readonly outcome: "lifecycle";
  readonly ref: EventRef;
  /** Validated and frozen; its id is the Event Grid id. */
  readonly event: LifecycleEvent;
}

interface IgnoredOutcome {
  readonly outcome: "ignored";
  readonly ref: EventRef;
  readonly reason: IgnoreReason;
}

interface OutOfScopeOutcome {
  readonly outcome: "out_of_scope";
  readonly ref: EventRef;
  readonly reason: OutOfScopeReason;
  /** Which secret no rule covers (identifiers only), for the operator's log line. */
  readonly secret: Readonly<AzureSecretRef>;
}

/** The decision for one event of an accepted delivery. */
export type EventOutcome = MutationOutcome | LifecycleOutcome | IgnoredOutcome | OutOfScopeOutcome;

/** An event that makes the whole delivery unacceptable. */
export interface RejectedEvent {
  readonly outcome: "rejected";
  readonly index: number;
  readonly reason: RejectReason;
  /** Field paths and what was expected of them; never a value from the body. */
  readonly issues: readonly string[];
}

/** A subscription validation handshake: answer 200 `{"validationResponse": validationCode}`. */
interface ValidationDecision {
  readonly kind: "validation";
  readonly eventId: string;
  readonly validationCode: string;
}

/** A notification: one outcome per event, in delivery order. */
interface EventsDecision {
  readonly kind: "events";
  readonly events: readonly EventOutcome[];
}

/** The delivery is refused as a whole (400); nothing of it is published. */
export interface RejectedDecision {
  readonly kind: "rejected";
  /** The reason of the first refused event (or of the body itself). */
  readonly reason: RejectReason;
  /** Every issue found, in delivery order. */
  readonly issues: readonly string[];
  /** The refused events; the other events of the delivery are refused with them. */
  readonly rejected: readonly RejectedEvent[];
  /** The number of events in the delivery (0 when the body is not events at all). */
  readonly total: number;
}

/** The result of `normalizeEventGrid`: exactly one decision per delivery. */
export type DeliveryDecision = ValidationDecision | EventsDecision | RejectedDecision;

export function rejectedEvent(index: number, reason: RejectReason, issues: readonly string[]): RejectedEvent {
  return { outcome: "rejected", index, reason, issues };
}
