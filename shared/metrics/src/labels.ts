/**
 * Metric names and label values shared with the dashboards and alert rules in deploy/. Changing a
 * value here means changing deploy/prometheus/alerts.yml and the Grafana dashboards too.
 */
export const METRIC = {
  ingestRequests: "credmesh_ingest_requests_total",
  ingestRequestDuration: "credmesh_ingest_request_duration_seconds",
  ingestEvents: "credmesh_ingest_events_total",
  busPublishDuration: "credmesh_bus_publish_duration_seconds",
  replicationDecisions: "credmesh_replication_decisions_total",
  replicationLag: "credmesh_replication_lag_seconds",
  replicationFailures: "credmesh_replication_failures_total",
  deadLetters: "credmesh_dead_letters_total",
  consumerPending: "credmesh_consumer_pending_messages",
  consumerStatus: "credmesh_consumer_status_total",
  cloudApiCalls: "credmesh_cloud_api_calls_total",
  cloudApiDuration: "credmesh_cloud_api_duration_seconds",
  credentialRefreshes: "credmesh_credential_refreshes_total",
  credentialExpiry: "credmesh_credential_expiry_timestamp_seconds",
} as const;

export const CLOUD = { aws: "aws", azure: "azure" } as const;
export type CloudLabel = (typeof CLOUD)[keyof typeof CLOUD];

export const CALL_OUTCOME = {
  success: "success",
  retryableError: "retryable_error",
  permanentError: "permanent_error",
} as const;
export type CallOutcome = (typeof CALL_OUTCOME)[keyof typeof CALL_OUTCOME];

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
  recovered: "recovered",
  reconciled: "reconciled",
  retried: "retried",
  deadLettered: "dead_lettered",
} as const;
export type Decision = (typeof DECISION)[keyof typeof DECISION];
