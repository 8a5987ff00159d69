import { z } from "zod";
import { decoded, encoded, validated } from "./wire.ts";

/**
 * Identity events of a cell, on `credmesh.identity.<cell>.<kind>` (stream CREDMESH_IDENTITY):
 * certificate state changes and renewals judged by the identity-watcher, observations the
 * replicators report (clock skew refusals, access denied by a cloud), and quarantine / release of a
 * cell. CloudEvents 1.0, structured JSON mode; identifiers, names and dates only — never key
 * material, tokens or secret values. Every producer builds them with {@link buildIdentityEvent}
 * and every consumer reads them with {@link decodeIdentityEvent}.
 *
 * The KV value of a cell's quarantine state ({@link quarantineRecordSchema}) and the audit record
 * of a quarantine or release are defined here too: both cross process boundaries.
 *
 * @see ../../../shared/SPEC.md section 2 (identity-watcher) and ../../../README.md#identity-watcher
 */
export const IDENTITY_EVENT_TYPES = {
  certificate: "io.credmesh.identity.certificate.v1",
  clockSkew: "io.credmesh.identity.clock_skew.v1",
  accessDenied: "io.credmesh.identity.access_denied.v1",
  quarantine: "io.credmesh.identity.quarantine.v1",
} as const;

/**
 * What the identity-watcher judges of one certificate. Distinct on purpose: a certificate that is
 * not there (`absent`), cannot be read (`unreadable`: permission, broken symlink) and cannot be
 * understood (`invalid`) need different fixes.
 */
export const CERTIFICATE_STATES = [
  "ok",
  "renewal_due",
  "near_expiry",
  "expired",
  "not_yet_valid",
  "chain_incomplete",
  "cn_mismatch",
  "invalid",
  "unreadable",
  "absent",
] as const;
export type CertificateState = (typeof CERTIFICATE_STATES)[number];

/** Every identity event kind; also the last token of its subject. */
export const IDENTITY_EVENT_KINDS = [...CERTIFICATE_STATES, "renewed", "clock_skew", "access_denied", "quarantined", "released"] as const;
export type IdentityEventKind = (typeof IDENTITY_EVENT_KINDS)[number];

/** The automatic quarantine policies (each on or off per cell). */
export const QUARANTINE_POLICIES = ["expired_certificate", "certificate_mismatch", "access_denied", "clock_skew"] as const;
export type QuarantinePolicy = (typeof QUARANTINE_POLICIES)[number];

const CELL = /^[A-Za-z0-9_.@-]{2,64}$/;
const cell = z.string().regex(CELL, "not a cell id");
const time = z.iso.datetime({ offset: true });
const text = (max: number) => z.string().min(1).max(max);

/** A certificate as events describe it: public facts only. */
export const certificateFactsSchema = z.strictObject({
  /** SHA-256 fingerprint, colon-separated hex, as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint: z.string().regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/),
  serialNumber: z.string().regex(/^[0-9A-F]{1,64}$/),
  subject: text(1024),
  subjectCN: text(256).optional(),
  issuer: text(1024),
  issuerCN: text(256).optional(),
  notBefore: time,
  notAfter: time,
});
export type CertificateFacts = z.infer<typeof certificateFactsSchema>;

/** Where a certificate is watched: a file (through symlinks), or a certificate object in a vault. */
export const certificateSourceSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("file"), path: text(4096) }),
  z.strictObject({ type: z.literal("vault"), vault: z.string().regex(/^[0-9a-zA-Z-]{3,24}$/), name: z.string().regex(/^[0-9a-zA-Z-]{1,127}$/) }),
]);
export type CertificateSource = z.infer<typeof certificateSourceSchema>;

const certificateEventDataSchema = z.strictObject({
  kind: z.enum([...CERTIFICATE_STATES, "renewed"]),
  cell,
  /** The watched place: a file path or `keyvault/<vault>/<name>` (the metrics' `filepath` label). */
  place: text(4096),
  source: certificateSourceSchema,
  /** The judged state after this event (`renewed` events carry the new certificate's state). */
  state: z.enum(CERTIFICATE_STATES),
  previousState: z.enum(CERTIFICATE_STATES).optional(),
  certificate: certificateFactsSchema.optional(),
  /** For `renewed`: the certificate that was replaced. */
  previousCertificate: certificateFactsSchema.optional(),
  /** Vault certificates (known from lifecycle events, not read): the version and its validity. */
  version: z.string().regex(/^[0-9a-f]{32}$/).optional(),
  previousVersion: z.string().regex(/^[0-9a-f]{32}$/).optional(),
  notAfter: time.optional(),
  /** When the certificate passes its renewal point. */
  renewalAt: time.optional(),
  /** For `near_expiry`: the threshold (seconds before notAfter) that was crossed. */
  thresholdSeconds: z.number().int().nonnegative().optional(),
  /** What is wrong, in words an operator can act on (DNs, paths, dates; never key material). */
  problems: z.array(text(1024)).max(16),
  detectedAt: time,
});

const clockSkewEventDataSchema = z.strictObject({
  kind: z.literal("clock_skew"),
  cell,
  /** The credential source whose token was refused, e.g. `aws/web-identity-token-file`. */
  credentialSource: text(128),
  claim: z.enum(["iat", "nbf"]),
  claimedAt: time,
  observedAt: time,
  offsetSeconds: z.number().int(),
  toleranceSeconds: z.number().nonnegative(),
  action: z.literal("refused"),
});

const accessDeniedEventDataSchema = z.strictObject({
  kind: z.literal("access_denied"),
  cell,
  cloud: z.enum(["aws", "azure"]),
  /** The cloud operation that was refused, e.g. `GetSecretValue`. */
  operation: text(128),
  /** The cloud's error code, e.g. `AccessDeniedException`, `Forbidden`. */
  code: text(128).optional(),
  observedAt: time,
});

/** Who or what quarantined a cell. */
export const quarantineTriggerSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("operator") }),
  z.strictObject({
    type: z.literal("policy"),
    policy: z.enum(QUARANTINE_POLICIES),
    /** The identity event that tripped the policy. */
    eventId: text(256).optional(),
  }),
]);
export type QuarantineTrigger = z.infer<typeof quarantineTriggerSchema>;

const quarantineEventDataSchema = z.strictObject({
  kind: z.enum(["quarantined", "released"]),
  cell,
  reason: text(1024),
  /** The operator (NATS user or `--by`) or `identity-watcher` for a policy. */
  by: text(256),
  at: time,
  trigger: quarantineTriggerSchema,
  /** Unique per transition; the event id and the audit record's message id. */
  transitionId: text(128),
});

export const identityEventDataSchema = z.discriminatedUnion("kind", [
  certificateEventDataSchema,
  clockSkewEventDataSchema,
  accessDeniedEventDataSchema,
  quarantineEventDataSchema,
]);
export type IdentityEventData = z.infer<typeof identityEventDataSchema>;
export type CertificateEventData = z.infer<typeof certificateEventDataSchema>;
export type ClockSkewEventData = z.infer<typeof clockSkewEventDataSchema>;
export type AccessDeniedEventData = z.infer<typeof accessDeniedEventDataSchema>;
export type QuarantineEventData = z.infer<typeof quarantineEventDataSchema>;

export const identityEventSchema = z.strictObject({
  specversion: z.literal("1.0"),
  id: text(256),
  source: text(512),
  type: z.enum([IDENTITY_EVENT_TYPES.certificate, IDENTITY_EVENT_TYPES.clockSkew, IDENTITY_EVENT_TYPES.accessDenied, IDENTITY_EVENT_TYPES.quarantine]),
  subject: text(4200),
  time,
  datacontenttype: z.literal("application/json"),
  data: identityEventDataSchema,
});
export type IdentityEvent = Readonly<z.infer<typeof identityEventSchema>>;

/** The CloudEvent type of each kind. */
export function identityEventType(kind: IdentityEventKind): IdentityEvent["type"] {
  switch (kind) {
    case "clock_skew":
      return IDENTITY_EVENT_TYPES.clockSkew;
    case "access_denied":
      return IDENTITY_EVENT_TYPES.accessDenied;
    case "quarantined":
    case "released":
      return IDENTITY_EVENT_TYPES.quarantine;
    default:
      return IDENTITY_EVENT_TYPES.certificate;
  }
}

export interface BuildIdentityEventInput {
  /** Deterministic where a retry must not make a second event (JetStream deduplicates by it). */
  id: string;
  /** Who publishes: `identity-watcher` or `replicator`. */
  producer: "identity-watcher" | "replicator";
  data: IdentityEventData;
}

/**
 * Builds, validates and freezes an identity event. The CloudEvent `subject` is
 * `<cell>/<place|credentialSource|cloud>`, readable in `nats sub` output; `time` is when the
 * judged or observed thing happened.
 */
export function buildIdentityEvent(input: BuildIdentityEventInput): IdentityEvent {
  const { data } = input;
  const candidate = {
    specversion: "1.0" as const,
    id: input.id,
    source: `credmesh/${input.producer}/${data.cell}`,
    type: identityEventType(data.kind),
    subject: `${data.cell}/${subjectDetail(data)}`,
    time: timeOf(data),
    datacontenttype: "application/json" as const,
    data,
  };
  return validated(identityEventSchema, candidate, "identity event");
}

/** Parses and validates an identity event from the bus. Throws `InvalidEventError`. */
export function decodeIdentityEvent(bytes: Uint8Array): IdentityEvent {
  return decoded(identityEventSchema, bytes, "identity event");
}

/**
 * A cell's quarantine state as stored in KV (bucket `credmesh-quarantine`, key = the cell). A
 * missing key means the cell was never quarantined. Written only by the identity-watcher.
 */
export const quarantineRecordSchema = z.strictObject({
  cell,
  state: z.enum(["quarantined", "active"]),
  reason: text(1024),
  by: text(256),
  /** When this state began: for `quarantined`, sessions issued before it are revoked in AWS. */
  at: time,
  trigger: quarantineTriggerSchema,
  transitionId: text(128),
  /** For `active`: when the cell was last quarantined. */
  quarantinedAt: time.optional(),
});
export type QuarantineRecord = z.infer<typeof quarantineRecordSchema>;

export function encodeQuarantineRecord(record: QuarantineRecord): Uint8Array {
  return encoded(validated(quarantineRecordSchema, record, "quarantine record"));
}

/** Throws `InvalidEventError` for a value that is not a quarantine record. */
export function decodeQuarantineRecord(bytes: Uint8Array): QuarantineRecord {
  return decoded(quarantineRecordSchema, bytes, "quarantine record");
}

/** The audit record of a quarantine or release, on `credmesh.audit.quarantine.<cell>`. */
export interface QuarantineAuditRecord {
  decision: "quarantined" | "released";
  at: string;
  cell: string;
  reason: string;
  by: string;
  trigger: QuarantineTrigger;
  transitionId: string;
}

/** The audit record of the transition to `record`. */
export function quarantineAuditRecord(record: QuarantineRecord): QuarantineAuditRecord {
  return {
    decision: record.state === "quarantined" ? "quarantined" : "released",
    at: record.at,
    cell: record.cell,
    reason: record.reason,
    by: record.by,
    trigger: record.trigger,
    transitionId: record.transitionId,
  };
}

function subjectDetail(data: IdentityEventData): string {
  switch (data.kind) {
    case "clock_skew":
      return data.credentialSource;
    case "access_denied":
      return `${data.cloud}/${data.operation}`;
    case "quarantined":
    case "released":
      return data.kind;
    default:
      return data.place;
  }
}

function timeOf(data: IdentityEventData): string {
  switch (data.kind) {
    case "clock_skew":
    case "access_denied":
      return data.observedAt;
    case "quarantined":
    case "released":
      return data.at;
    default:
      return data.detectedAt;
  }
}
