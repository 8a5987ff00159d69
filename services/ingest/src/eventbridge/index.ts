/**
 * EventBridge → canonical mutation event: the pure part of ingest's AWS webhook.
 * @see ../../../../../shared/SPEC.md section 2 (ingest)
 */
export { normalizeEventBridge, type NormalizeOptions } from "./normalize.ts";
export {
  IGNORE_REASONS,
  REJECT_REASONS,
  REJECT_STATUS,
  type IgnoreReason,
  type IgnoredOutcome,
  type MutationOutcome,
  type Normalized,
  type OutOfScopeOutcome,
  type OutOfScopeReason,
  type RejectReason,
  type RejectStatus,
  type RejectedOutcome,
} from "./outcomes.ts";
export { EVENT_NAME_DECISIONS, type NameDecision } from "./event-names.ts";
