export {
  CALL_OUTCOME,
  CLOUD,
  DECISION,
  INGEST_OUTCOME,
  METRIC,
  type CallOutcome,
  type CloudLabel,
  type Decision,
  type IngestOutcome,
} from "./labels.ts";
export { createMetrics, type Metrics } from "./registry.ts";
export { observeCall } from "./observe.ts";
export { Registry } from "prom-client";
