import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { LATENCY_BUCKETS, cloudCallMetrics } from "./cloud-calls.ts";
import { identityMetrics } from "./identity-metrics.ts";
import { METRIC } from "./labels.ts";

/** Replication lag buckets: 50 ms to 1 h. */
const LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Reconcile run buckets: 100 ms to 1 h (a first run over a large estate lists for minutes). */
const RUN_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/**
 * Every credmesh metric, defined once. Each service creates one set over its own registry and
 * uses the members it needs; unused members simply export zero series.
 */
export function createMetrics(registry: Registry = new Registry(), options: { defaultMetrics?: boolean } = {}) {
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "credmesh_process_" });
  const registers = [registry];
  return {
    registry,
    ingestRequests: new Counter({
      name: METRIC.ingestRequests,
      help: "Webhook HTTP requests by endpoint and response status.",
      labelNames: ["endpoint", "status"] as const,
      registers,
    }),
    ingestRequestDuration: new Histogram({
      name: METRIC.ingestRequestDuration,
      help: "Webhook request handling time, from first byte to response.",
      labelNames: ["endpoint"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    ingestEvents: new Counter({
      name: METRIC.ingestEvents,
      help: "Received events by source, outcome and reason (why ignored or rejected).",
      labelNames: ["source", "outcome", "reason"] as const,
      registers,
    }),
    busPublishDuration: new Histogram({
      name: METRIC.busPublishDuration,
      help: "Time until JetStream acknowledged a publish.",
      labelNames: ["stream"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    busPublishRetries: new Counter({
      name: METRIC.busPublishRetries,
      help: "Publishes tried again (same message id) because JetStream did not acknowledge them, e.g. during a stream leader election.",
      labelNames: ["stream"] as const,
      registers,
    }),
    busStreamReplicas: new Gauge({
      name: METRIC.busStreamReplicas,
      help: "Replicas of each stream and KV bucket (its stream KV_<bucket>) the service uses, as JetStream reports them: configured, and placed (peers assigned).",
      labelNames: ["stream", "state"] as const,
      registers,
    }),
    busStreamReplicasMismatch: new Gauge({
      name: METRIC.busStreamReplicasMismatch,
      help: "1 when a stream or KV bucket the service uses is configured or placed with another replica count than CREDMESH_STREAM_REPLICAS (the service reports it, and is not ready, instead of using it silently).",
      labelNames: ["stream"] as const,
      registers,
    }),
    replicationDecisions: new Counter({
      name: METRIC.replicationDecisions,
      help: "Replicator decisions per destination (applied, skipped_duplicate, dead_lettered, ...).",
      labelNames: ["destination", "decision"] as const,
      registers,
    }),
    replicationLag: new Histogram({
      name: METRIC.replicationLag,
      help: "Origin event time to destination write, in seconds.",
      labelNames: ["destination"] as const,
      buckets: LAG_BUCKETS,
      registers,
    }),
    replicationFailures: new Counter({
      name: METRIC.replicationFailures,
      help: "Failed mutation attempts by destination, reason and retryability.",
      labelNames: ["destination", "reason", "retryable"] as const,
      registers,
    }),
    replicaDrift: new Counter({
      name: METRIC.replicaDrift,
      help: "Replicas found changed by hand (drift), by what the rule's onDrift policy did: overwritten or kept.",
      labelNames: ["destination", "rule", "action"] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: METRIC.deadLetters,
      help: "Mutations sent to the dead-letter subject.",
      labelNames: ["destination", "reason"] as const,
      registers,
    }),
    consumerPending: new Gauge({
      name: METRIC.consumerPending,
      help: "Messages not yet delivered to the durable consumer.",
      labelNames: ["consumer"] as const,
      registers,
    }),
    // The state of credmesh's streams and consumers as JetStream reports it (every service reports
    // it: @credmesh/bus reportBusState); the bus dashboard and the backlog alert read these.
    consumerAckPending: new Gauge({
      name: METRIC.consumerAckPending,
      help: "Messages delivered to the consumer and not yet acknowledged.",
      labelNames: ["stream", "consumer"] as const,
      registers,
    }),
    consumerRedelivered: new Gauge({
      name: METRIC.consumerRedelivered,
      help: "Messages the consumer has had redelivered at least once (pending acknowledgement).",
      labelNames: ["stream", "consumer"] as const,
      registers,
    }),
    streamMessages: new Gauge({ name: METRIC.streamMessages, help: "Messages stored in the stream.", labelNames: ["stream"] as const, registers }),
    streamBytes: new Gauge({ name: METRIC.streamBytes, help: "Bytes stored in the stream.", labelNames: ["stream"] as const, registers }),
    streamConsumers: new Gauge({ name: METRIC.streamConsumers, help: "Consumers of the stream.", labelNames: ["stream"] as const, registers }),
    consumerStatus: new Counter({
      name: METRIC.consumerStatus,
      help: "Status notifications of the JetStream consumer (heartbeats missed, consumer deleted, ...).",
      labelNames: ["consumer", "status"] as const,
      registers,
    }),
    ...cloudCallMetrics(registers),
    credentialRefreshes: new Counter({
      name: METRIC.credentialRefreshes,
      help: "Federated credential fetches by source and outcome (success, or a failure reason).",
      labelNames: ["source", "outcome"] as const,
      registers,
    }),
    credentialExpiry: new Gauge({
      name: METRIC.credentialExpiry,
      help: "Expiry of the credential currently cached per source, as a Unix timestamp.",
      labelNames: ["source"] as const,
      registers,
    }),
    controlRequests: new Counter({
      name: METRIC.controlRequests,
      help: "Operator requests (reconcile, quarantine, release) a service answered, by outcome; invalid_request counts the refused ones.",
      labelNames: ["command", "outcome"] as const,
      registers,
    }),
    reconcileActions: new Counter({
      name: METRIC.reconcileActions,
      help: "Anti-entropy findings per destination: corrective sync/delete mutations published, orphans and conflicts reported.",
      labelNames: ["destination", "action"] as const,
      registers,
    }),
    reconcileRunDuration: new Histogram({
      name: METRIC.reconcileRunDuration,
      help: "Duration of reconcile runs (list, compare, publish) by destination and outcome (ok, errors, failed).",
      labelNames: ["destination", "outcome"] as const,
      buckets: RUN_BUCKETS,
      registers,
    }),
    identityClockSkew: new Gauge({
      name: METRIC.identityClockSkew,
      help: "How far the local clock is behind the issuer of the last token checked per source, in seconds (negative: ahead; only freshly minted tokens can show a clock that is ahead).",
      labelNames: ["source"] as const,
      registers,
    }),
    identityClockSkewRefusals: new Counter({
      name: METRIC.identityClockSkewRefusals,
      help: "Tokens refused before use because their issued-at (or not-before) was further from the local clock than the tolerance.",
      labelNames: ["source"] as const,
      registers,
    }),
    rateLimitWaits: new Counter({
      name: METRIC.rateLimitWaits,
      help: "Cloud calls that waited in the per-vault rate limiter, by cloud, vault, bucket and cause (quota, throttled).",
      labelNames: ["cloud", "vault", "bucket", "cause"] as const,
      registers,
    }),
    rateLimitWaitDuration: new Histogram({
      name: METRIC.rateLimitWaitDuration,
      help: "Time cloud calls waited in the per-vault rate limiter (waits only).",
      labelNames: ["cloud", "vault"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    rateLimitPauses: new Counter({
      name: METRIC.rateLimitPauses,
      help: "Times a vault's rate limiter paused because the cloud throttled (429 / ThrottlingException).",
      labelNames: ["cloud", "vault", "bucket"] as const,
      registers,
    }),
    ...identityMetrics(registers),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
