export {
  CALL_OUTCOME,
  CLOUD,
  DECISION,
  DRIFT_ACTION,
  INGEST_OUTCOME,
  METRIC,
  RECONCILE_ACTION,
  RECONCILE_OUTCOME,
  RATE_LIMIT_BUCKET,
  RATE_LIMIT_CAUSE,
  type CallOutcome,
  type CloudLabel,
  type Decision,
  type DriftAction,
  type IngestOutcome,
  type ReconcileAction,
  type ReconcileOutcome,
  type RateLimitBucket,
  type RateLimitCause,
} from "./labels.ts";
export { createMetrics, type Metrics } from "./registry.ts";
export { observeCall } from "./observe.ts";
export { Registry } from "prom-client";
