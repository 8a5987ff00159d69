import type { ErrorRecord } from "@credmesh/errors";
import type { MutationEvent } from "@credmesh/events";
import type { Decision } from "@credmesh/metrics";

/**
 * Records published on the bus by the replicator: one audit record per decision and one
 * dead-letter record per message given up on. Both are built from identifiers only — the
 * mutation event itself carries no value — so they are safe to tap with `nats sub`.
 */
export interface AuditRecord {
  decision: Decision;
  at: string;
  correlationId: string;
  eventId: string;
  rule: string;
  kind: string;
  origin: MutationEvent["data"]["origin"];
  originVersion?: string;
  /** `replacedVersionId`: a version someone else wrote that this decision replaced or deleted (drift), never its value. */
  destination: { cloud: string; vault: string; name: string; versionId?: string; replacedVersionId?: string };
  detail?: string;
  cell: string;
}

export interface DeadLetterRecord {
  at: string;
  cell: string;
  deliveries: number;
  stream: string;
  streamSequence: number;
  subject: string;
  error: ErrorRecord;
  /** The original mutation event (identifiers only), so `credmesh dlq replay` can republish it. */
  event: MutationEvent | undefined;
}
