/**
 * Azure Event Grid → canonical mutation and lifecycle events: the pure part of ingest's Azure
 * webhook.
 * @see ../../../../../shared/SPEC.md section 2 (ingest)
 */
export { normalizeEventGrid } from "./normalize.ts";
export {
  REJECT_STATUS,
  type EventOutcome,
  type LifecycleOutcome,
  type MutationOutcome,
  type RejectedDecision,
} from "./outcomes.ts";
export { ALLOW_METHODS, answerAbuseProtection } from "./abuse-protection.ts";
