import { CELL_ID, CORRELATION_ID, RULE_ID } from "@credmesh/identifiers";
import { DECISION } from "@credmesh/metrics";
import { z } from "zod";
import { MUTATION_KINDS, originSchema, type MutationEvent } from "./schema.ts";
import { capped, decoded, validated } from "./wire.ts";

/**
 * The audit record: one per replicator decision, on `credmesh.audit.<destination>.<decision>`
 * (stream CREDMESH_AUDIT), and one per corrective mutation a reconcile run publishes (`reconciled`).
 * What an auditor taps with `nats sub 'credmesh.audit.>'` and what `credmesh status` reads:
 * identifiers, versions and a sanitized detail written by credmesh — never a value. Decoding
 * drops fields the schema does not know (a newer writer's additions are ignored, never shown).
 * @see ../../../README.md#the-bus
 */

const DECISIONS = Object.values(DECISION) as [(typeof DECISION)[keyof typeof DECISION], ...Array<(typeof DECISION)[keyof typeof DECISION]>];
const cloud = z.enum(["aws", "azure"]);
/** Origin version ids: Secrets Manager's (32–64 characters) or Key Vault's (32 hex). */
const versionId = z.string().min(1).max(64);

export const auditRecordSchema = z.object({
  decision: z.enum(DECISIONS),
  /** When the decision was made (ISO-8601). */
  at: z.iso.datetime({ offset: true }),
  /** The mutation's correlation id: the sender's event id, kept through replays and corrections. */
  correlationId: z.string().regex(CORRELATION_ID),
  /** The mutation event's id (the JetStream message id of the mutation). */
  eventId: z.string().min(1).max(256),
  rule: z.string().regex(RULE_ID),
  kind: z.enum(MUTATION_KINDS),
  origin: originSchema,
  /** The origin version the decision concerned (written, skipped, found stale…). */
  originVersion: versionId.optional(),
  destination: z.object({
    cloud,
    /** The destination vault (a Key Vault URL, `aws/<account>/<region>`); empty for a dead letter. */
    vault: z.string().max(2048),
    /** The replica's name; empty for a dead letter. */
    name: z.string().max(512),
    /** The replica's version the decision left current, when known. */
    versionId: versionId.optional(),
    /** A version someone else wrote that this decision replaced or deleted (drift), never its value. */
    replacedVersionId: versionId.optional(),
  }),
  /** Why, in credmesh's own words (never a cloud's message text, never a value). */
  detail: z.string().max(1024).optional(),
  /** The cell that decided. */
  cell: z.string().regex(CELL_ID),
  /** `reconciled` records: the run that found it, and the finding's reason. */
  runId: z.string().min(1).max(128).optional(),
  reason: z.string().regex(/^[a-z_]{1,64}$/).optional(),
});

export type AuditRecord = Readonly<z.infer<typeof auditRecordSchema>>;

/** What a decision adds to the mutation it concerns; {@link buildAuditRecord} takes the rest from the event. */
export interface AuditInput {
  event: MutationEvent;
  decision: AuditRecord["decision"];
  at: Date;
  cell: string;
  destination: AuditRecord["destination"];
  originVersion?: string | undefined;
  detail?: string | undefined;
  /** For `reconciled` records. */
  reconcile?: { runId: string; reason: string } | undefined;
}

/** Builds, validates and freezes an audit record. Throws {@link InvalidEventError}. */
export function buildAuditRecord(input: AuditInput): AuditRecord {
  const { event } = input;
  return validated(
    auditRecordSchema,
    {
      decision: input.decision,
      at: input.at.toISOString(),
      correlationId: event.correlationid,
      eventId: event.id,
      rule: event.data.rule,
      kind: event.data.kind,
      origin: event.data.origin,
      ...(input.originVersion ? { originVersion: input.originVersion } : {}),
      destination: input.destination,
      ...(input.detail ? { detail: capped(input.detail, 1024) } : {}),
      cell: input.cell,
      ...(input.reconcile ?? {}),
    },
    "audit record",
  );
}

/** Parses and validates an audit record from the bus. Throws {@link InvalidEventError}. */
export function decodeAuditRecord(bytes: Uint8Array): AuditRecord {
  return decoded(auditRecordSchema, bytes, "audit record");
}
