export {
  CALL_OUTCOME,
  CLOUD,
  DECISION,
  INGEST_OUTCOME,
  METRIC,
  RECONCILE_ACTION,
  RECONCILE_OUTCOME,
  RATE_LIMIT_BUCKET,
  RATE_LIMIT_CAUSE,
  type CallOutcome,
  type CloudLabel,
  type Decision,
  type IngestOutcome,
  type ReconcileAction,
  type ReconcileOutcome,
  type RateLimitBucket,
  type RateLimitCause,
} from "./labels.ts";
export { createMetrics, type Metrics } from "./registry.ts";
export { GATE_STATE, IDENTITY_METRIC, QUARANTINE_LAYER, type GateState, type QuarantineLayer } from "./identity-labels.ts";
export { observeCall } from "./observe.ts";
export { Registry } from "prom-client";
