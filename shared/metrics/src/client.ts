import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { LATENCY_BUCKETS, cloudCallMetrics } from "./cloud-calls.ts";
import { CLIENT_METRIC } from "./labels.ts";

/**
 * The failover client's metrics over the application's registry: reads by backend and source,
 * failovers, breaker states, cache refreshes and size, and every cloud call in the same shape as
 * the services'. No label ever carries a secret name or value: backends are labelled by cloud and
 * role only.
 */
export function createClientMetrics(registry: Registry) {
  const registers = [registry];
  return {
    registry,
    ...cloudCallMetrics(registers),
    clientReads: new Counter({
      name: CLIENT_METRIC.reads,
      help: "Secret reads through the failover client by serving cloud and role (primary, fallback; none when the read failed), source (cache, cloud, stale) and outcome (success or a failure reason).",
      labelNames: ["cloud", "role", "source", "outcome"] as const,
      registers,
    }),
    clientReadDuration: new Histogram({
      name: CLIENT_METRIC.readDuration,
      help: "Duration of reads through the failover client, by source.",
      labelNames: ["source"] as const,
      buckets: [0.0001, 0.0005, 0.001, ...LATENCY_BUCKETS],
      registers,
    }),
    clientFailovers: new Counter({
      name: CLIENT_METRIC.failovers,
      help: "Cloud reads served by the fallback because the primary was unavailable, by clouds and the primary's failure reason (circuit_open when its breaker was open).",
      labelNames: ["from", "to", "reason"] as const,
      registers,
    }),
    clientBreakerState: new Gauge({
      name: CLIENT_METRIC.breakerState,
      help: "Circuit breaker state per backend: 0 closed, 1 open, 2 half-open, 3 isolated.",
      labelNames: ["cloud", "role"] as const,
      registers,
    }),
    clientRefreshes: new Counter({
      name: CLIENT_METRIC.refreshes,
      help: "Cache refreshes (refresh-ahead, expiry, explicit) by outcome: unchanged (version check only), changed (new version read), failed.",
      labelNames: ["outcome"] as const,
      registers,
    }),
    clientCacheEntries: new Gauge({
      name: CLIENT_METRIC.cacheEntries,
      help: "Secrets held in the failover client's cache.",
      registers,
    }),
  };
}

export type ClientMetrics = ReturnType<typeof createClientMetrics>;
