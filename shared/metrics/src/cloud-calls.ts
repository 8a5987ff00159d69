import { Counter, Histogram, type Registry } from "prom-client";
import { METRIC } from "./labels.ts";

/** Latency buckets for cloud calls and publishes: 5 ms to 30 s. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The one shape of every external call (counter and duration by cloud, operation and outcome),
 * shared by the services' metrics and the failover client's, so one dashboard reads both.
 */
export function cloudCallMetrics(registers: Registry[]) {
  return {
    cloudApiCalls: new Counter({
      name: METRIC.cloudApiCalls,
      help: "Calls to cloud APIs by cloud, operation and outcome.",
      labelNames: ["cloud", "operation", "outcome"] as const,
      registers,
    }),
    cloudApiDuration: new Histogram({
      name: METRIC.cloudApiDuration,
      help: "Duration of cloud API calls.",
      labelNames: ["cloud", "operation"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
  };
}
