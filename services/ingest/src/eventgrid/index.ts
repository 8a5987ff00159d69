/**
 * Azure Event Grid → canonical mutation and lifecycle events: the pure part of ingest's Azure
 * webhook.
 * @see ../../../../../shared/SPEC.md section 2 (ingest)
 */
export { normalizeEventGrid, DELIVERY_TYPES, type NormalizeEventGridOptions } from "./normalize.ts";
export {
  IGNORE_REASONS,
  REJECT_REASONS,
  REJECT_STATUS,
  type DeliveryDecision,
  type EventOutcome,
  type EventRef,
  type EventsDecision,
  type IgnoreReason,
  type IgnoredOutcome,
  type LifecycleOutcome,
  type MutationOutcome,
  type OutOfScopeOutcome,
  type OutOfScopeReason,
  type RejectReason,
  type RejectStatus,
  type RejectedDecision,
  type RejectedEvent,
  type ValidationDecision,
} from "./outcomes.ts";
export { EVENT_TYPE_DECISIONS, SUBSCRIPTION_VALIDATION_EVENT_TYPE, type EventTypeDecision } from "./event-types.ts";
export { ALLOW_METHODS, DEFAULT_ALLOWED_ORIGINS, answerAbuseProtection, type AbuseProtectionAnswer } from "./abuse-protection.ts";
