/**
 * EventBridge → canonical mutation event: the pure part of ingest's AWS webhook.
 * @see ../../../../../shared/SPEC.md section 2 (ingest)
 */
export { normalizeEventBridge } from "./normalize.ts";
export { REJECT_STATUS } from "./outcomes.ts";
