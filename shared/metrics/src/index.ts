export {
  BREAKER_STATE,
  CALL_OUTCOME,
  CLIENT_METRIC,
  CLOUD,
  CONTROL_OUTCOME,
  DECISION,
  DRIFT_ACTION,
  INGEST_OUTCOME,
  METRIC,
  RECONCILE_ACTION,
  RECONCILE_OUTCOME,
  RATE_LIMIT_BUCKET,
  RATE_LIMIT_CAUSE,
  READ_SOURCE,
  type CallOutcome,
  type CloudLabel,
  type ControlOutcome,
  type Decision,
  type DriftAction,
  type IngestOutcome,
  type ReconcileAction,
  type ReconcileOutcome,
  type RateLimitBucket,
  type RateLimitCause,
  type ReadSource,
} from "./labels.ts";
export { createMetrics, type Metrics } from "./registry.ts";
export { createClientMetrics, type ClientMetrics } from "./client.ts";
export { GATE_STATE, IDENTITY_METRIC, QUARANTINE_LAYER, type GateState, type QuarantineLayer } from "./identity-labels.ts";
export { observeCall } from "./observe.ts";
export { Registry } from "prom-client";
export { childrenOf } from "./children.ts";
