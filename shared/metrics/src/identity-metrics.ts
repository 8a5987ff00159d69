import { Counter, Gauge, type Registry } from "prom-client";
import { IDENTITY_METRIC } from "./identity-labels.ts";

/** Labels of one certificate's x509 series, as the x509-certificate-exporter names them. */
const CERT_LABELS = ["cell", "filepath", "subject_CN", "issuer_CN", "serial_number"] as const;

/** The identity metrics (see {@link IDENTITY_METRIC}); part of every service's metric set. */
export function identityMetrics(registers: Registry[]) {
  return {
    certNotBefore: new Gauge({ name: IDENTITY_METRIC.certNotBefore, help: "Certificate notBefore, as a Unix timestamp.", labelNames: CERT_LABELS, registers }),
    certNotAfter: new Gauge({ name: IDENTITY_METRIC.certNotAfter, help: "Certificate notAfter (expiry), as a Unix timestamp.", labelNames: CERT_LABELS, registers }),
    certExpired: new Gauge({ name: IDENTITY_METRIC.certExpired, help: "1 when the certificate is past its notAfter.", labelNames: CERT_LABELS, registers }),
    readErrors: new Gauge({
      name: IDENTITY_METRIC.readErrors,
      help: "Watched certificate places that could not be read or parsed in the last scan (absent, unreadable, invalid).",
      labelNames: ["cell"] as const,
      registers,
    }),
    sourceErrors: new Counter({
      name: IDENTITY_METRIC.sourceErrors,
      help: "Failed reads of watched certificate places, by reason (absent, unreadable, invalid, trust_anchor).",
      labelNames: ["cell", "reason"] as const,
      registers,
    }),
    certRenewalDue: new Gauge({
      name: IDENTITY_METRIC.certRenewalDue,
      help: "When the certificate passes its renewal point (2/3 of its lifetime by default), as a Unix timestamp.",
      labelNames: ["cell", "filepath", "serial_number"] as const,
      registers,
    }),
    certState: new Gauge({
      name: IDENTITY_METRIC.certState,
      help: "The judged state of each watched certificate place: 1 for its current state (ok, renewal_due, near_expiry, expired, ...).",
      labelNames: ["cell", "filepath", "state"] as const,
      registers,
    }),
    cellQuarantined: new Gauge({ name: IDENTITY_METRIC.cellQuarantined, help: "1 while the cell is quarantined.", labelNames: ["cell"] as const, registers }),
    identityEvents: new Counter({
      name: IDENTITY_METRIC.identityEvents,
      help: "Identity events published by the identity-watcher, by kind (state changes, renewed, quarantined, released).",
      labelNames: ["kind"] as const,
      registers,
    }),
    identityObservations: new Counter({
      name: IDENTITY_METRIC.identityObservations,
      help: "Events the identity-watcher consumed (clock_skew, access_denied, lifecycle), by outcome (transition, unchanged, quarantined, ignored, invalid).",
      labelNames: ["kind", "outcome"] as const,
      registers,
    }),
    identityLastScan: new Gauge({ name: IDENTITY_METRIC.identityLastScan, help: "When the identity-watcher last finished a certificate scan.", registers }),
    quarantineLayerApplied: new Gauge({
      name: IDENTITY_METRIC.quarantineLayerApplied,
      help: "1 when a cloud layer (aws, azure) of a cell reflects its quarantine state, 0 while it does not yet.",
      labelNames: ["cell", "layer"] as const,
      registers,
    }),
    quarantineLayerFailures: new Counter({
      name: IDENTITY_METRIC.quarantineLayerFailures,
      help: "Failed attempts to apply a cell's quarantine state to a cloud layer, by reason.",
      labelNames: ["cell", "layer", "reason"] as const,
      registers,
    }),
    quarantineGateState: new Gauge({
      name: IDENTITY_METRIC.quarantineGateState,
      help: "A replicator's quarantine gate for its cell: 1 for the current state (open, quarantined, unknown = cannot read the state, closed).",
      labelNames: ["cell", "state"] as const,
      registers,
    }),
    quarantineAborted: new Counter({
      name: IDENTITY_METRIC.quarantineAborted,
      help: "Cloud calls refused or abandoned by a replicator because its cell is quarantined (or its state unknown).",
      labelNames: ["cell"] as const,
      registers,
    }),
  };
}
