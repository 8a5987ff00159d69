/**
 * Names of the identity metrics: the identity-watcher's (certificates under the names of the
 * x509-certificate-exporter, which existing alerts and dashboards already use; events; quarantine)
 * and the quarantine gate of the replicators. Part of {@link METRIC}.
 */
export const IDENTITY_METRIC = {
  certNotBefore: "x509_cert_not_before",
  certNotAfter: "x509_cert_not_after",
  certExpired: "x509_cert_expired",
  readErrors: "x509_read_errors",
  sourceErrors: "x509_source_errors_total",
  certRenewalDue: "credmesh_cert_renewal_due_timestamp_seconds",
  certState: "credmesh_cert_state",
  cellQuarantined: "credmesh_cell_quarantined",
  identityEvents: "credmesh_identity_events_total",
  identityObservations: "credmesh_identity_observations_total",
  identityLastScan: "credmesh_identity_last_scan_timestamp_seconds",
  quarantineLayerApplied: "credmesh_quarantine_layer_applied",
  quarantineLayerFailures: "credmesh_quarantine_layer_failures_total",
  quarantineGateState: "credmesh_quarantine_gate_state",
  quarantineAborted: "credmesh_quarantine_aborted_total",
} as const;

/** States of a replicator's quarantine gate: `unknown` (cannot read the state) is closed too. */
export const GATE_STATE = { open: "open", quarantined: "quarantined", unknown: "unknown" } as const;
export type GateState = (typeof GATE_STATE)[keyof typeof GATE_STATE];

/** The cloud layers of a quarantine. */
export const QUARANTINE_LAYER = { aws: "aws", azure: "azure" } as const;
export type QuarantineLayer = (typeof QUARANTINE_LAYER)[keyof typeof QUARANTINE_LAYER];
