import { IDENTITY_METRIC } from "./identity-labels.ts";

/**
 * Metric names and label values shared with the dashboards and alert rules in deploy/. Changing a
 * value here means changing deploy/prometheus/alerts.yml and the Grafana dashboards too.
 */
export const METRIC = {
  ingestRequests: "credmesh_ingest_requests_total",
  ingestRequestDuration: "credmesh_ingest_request_duration_seconds",
  ingestEvents: "credmesh_ingest_events_total",
  busPublishDuration: "credmesh_bus_publish_duration_seconds",
  busPublishRetries: "credmesh_bus_publish_retries_total",
  busStreamReplicas: "credmesh_bus_stream_replicas",
  busStreamReplicasMismatch: "credmesh_bus_stream_replicas_mismatch",
  replicationDecisions: "credmesh_replication_decisions_total",
  replicationLag: "credmesh_replication_lag_seconds",
  replicationFailures: "credmesh_replication_failures_total",
  deadLetters: "credmesh_dead_letters_total",
  consumerPending: "credmesh_consumer_pending_messages",
  consumerStatus: "credmesh_consumer_status_total",
  consumerAckPending: "credmesh_consumer_ack_pending_messages",
  consumerRedelivered: "credmesh_consumer_redelivered_messages",
  streamMessages: "credmesh_stream_messages",
  streamBytes: "credmesh_stream_bytes",
  streamConsumers: "credmesh_stream_consumers",
  cloudApiCalls: "credmesh_cloud_api_calls_total",
  cloudApiDuration: "credmesh_cloud_api_duration_seconds",
  credentialRefreshes: "credmesh_credential_refreshes_total",
  credentialExpiry: "credmesh_credential_expiry_timestamp_seconds",
  reconcileActions: "credmesh_reconcile_actions_total",
  reconcileRunDuration: "credmesh_reconcile_run_duration_seconds",
  identityClockSkew: "credmesh_identity_clock_skew_seconds",
  identityClockSkewRefusals: "credmesh_identity_clock_skew_refusals_total",
  rateLimitWaits: "credmesh_rate_limit_waits_total",
  rateLimitWaitDuration: "credmesh_rate_limit_wait_seconds",
  rateLimitPauses: "credmesh_rate_limit_pauses_total",
  ...IDENTITY_METRIC,
  replicaDrift: "credmesh_replica_drift_total",
  controlRequests: "credmesh_control_requests_total",
} as const;

/**
 * What a service made of an operator request (reconcile, quarantine, release): done, refused as
 * malformed or for something it does not serve, busy, or failed.
 */
export const CONTROL_OUTCOME = {
  ok: "ok",
  invalidRequest: "invalid_request",
  busy: "busy",
  failed: "failed",
} as const;
export type ControlOutcome = (typeof CONTROL_OUTCOME)[keyof typeof CONTROL_OUTCOME];

export const CLOUD = { aws: "aws", azure: "azure" } as const;
export type CloudLabel = (typeof CLOUD)[keyof typeof CLOUD];

export const CALL_OUTCOME = {
  success: "success",
  retryableError: "retryable_error",
  permanentError: "permanent_error",
} as const;
export type CallOutcome = (typeof CALL_OUTCOME)[keyof typeof CALL_OUTCOME];

/**
 * Buckets of the per-vault rate limiter: Secrets Manager writes and reads per account and region;
 * Key Vault operations (all transactions) and creates (every SetSecret) per vault.
 */
export const RATE_LIMIT_BUCKET = {
  writes: "writes",
  reads: "reads",
  operations: "operations",
  creates: "creates",
} as const;
export type RateLimitBucket = (typeof RATE_LIMIT_BUCKET)[keyof typeof RATE_LIMIT_BUCKET];

/** Why a call waited in the rate limiter: its own quota, or a pause after the cloud throttled. */
export const RATE_LIMIT_CAUSE = { quota: "quota", throttled: "throttled" } as const;
export type RateLimitCause = (typeof RATE_LIMIT_CAUSE)[keyof typeof RATE_LIMIT_CAUSE];

/** What ingest did with one received event. */
export const INGEST_OUTCOME = {
  published: "published",
  duplicate: "duplicate",
  ignored: "ignored",
  outOfScope: "out_of_scope",
  rejected: "rejected",
  busUnavailable: "bus_unavailable",
} as const;
export type IngestOutcome = (typeof INGEST_OUTCOME)[keyof typeof INGEST_OUTCOME];

/**
 * What anti-entropy found for one secret: a corrective `sync` or `delete` mutation, or a finding
 * it only reports (an orphaned replica, a destination the replicator would refuse).
 */
export const RECONCILE_ACTION = {
  sync: "sync",
  delete: "delete",
  orphan: "orphan",
  conflict: "conflict",
} as const;
export type ReconcileAction = (typeof RECONCILE_ACTION)[keyof typeof RECONCILE_ACTION];

/** How a reconcile run ended: every place compared, some errors, or not at all. */
export const RECONCILE_OUTCOME = { ok: "ok", errors: "errors", failed: "failed" } as const;
export type ReconcileOutcome = (typeof RECONCILE_OUTCOME)[keyof typeof RECONCILE_OUTCOME];

/** What became of a replica changed by hand (drift). */
export const DRIFT_ACTION = { overwritten: "overwritten", kept: "kept" } as const;
export type DriftAction = (typeof DRIFT_ACTION)[keyof typeof DRIFT_ACTION];

/** What a replicator decided for one mutation; also the audit subjects' last token. */
export const DECISION = {
  applied: "applied",
  deleted: "deleted",
  restored: "restored",
  skippedDuplicate: "skipped_duplicate",
  skippedEcho: "skipped_echo",
  skippedConflict: "skipped_conflict",
  skippedAbsent: "skipped_absent",
  skippedStale: "skipped_stale",
  /** A replica changed by hand was overwritten with its source (rule `onDrift: overwrite`). */
  overwroteDrift: "overwrote_drift",
  /** A replica changed by hand was left as it is (rule `onDrift: keep`). */
  skippedDrift: "skipped_drift",
  recovered: "recovered",
  reconciled: "reconciled",
  retried: "retried",
  deadLettered: "dead_lettered",
} as const;
export type Decision = (typeof DECISION)[keyof typeof DECISION];

/**
 * Metrics of the failover client (`@credmesh/client`), in the application's own registry. Names
 * live here with the services' so a dashboard or alert rule can rely on them too.
 */
export const CLIENT_METRIC = {
  reads: "credmesh_client_reads_total",
  readDuration: "credmesh_client_read_duration_seconds",
  failovers: "credmesh_client_failovers_total",
  breakerState: "credmesh_client_breaker_state",
  refreshes: "credmesh_client_refreshes_total",
  cacheEntries: "credmesh_client_cache_entries",
} as const;

/** Where a read's value came from: the cache, a cloud call, or the cache past its TTL because every backend failed. */
export const READ_SOURCE = { cache: "cache", cloud: "cloud", stale: "stale" } as const;
export type ReadSource = (typeof READ_SOURCE)[keyof typeof READ_SOURCE];

/** The breaker gauge's values: closed 0, open 1, half-open 2, isolated 3 (cockatiel's CircuitState). */
export const BREAKER_STATE = { closed: 0, open: 1, halfOpen: 2, isolated: 3 } as const;
