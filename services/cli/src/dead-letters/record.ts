import { InvalidEventError, decodeDeadLetterRecord, secretKeyOf, type DeadLetterRecord, type MutationEvent, type Origin } from "@credmesh/events";
import { PREFIX } from "@credmesh/bus-names";

/** A message as read from CREDMESH_DLQ. */
export interface StoredRecord {
  seq: number;
  subject: string;
  time: Date;
  data: Uint8Array;
}

/**
 * What the CLI shows of a dead letter: identifiers, the sanitized reason credmesh wrote, and
 * where the mutation was. Built field by field from the decoded record (an allow-list), so nothing
 * a record might carry beyond the schema's fields is ever printed.
 */
export interface DeadLetterView {
  /** Sequence in CREDMESH_DLQ: what `credmesh dlq replay --seq` takes. */
  seq: number;
  at: string;
  destination: string;
  rule: string | undefined;
  kind: string | undefined;
  /** The secret's identity at its origin, e.g. `aws/123456789012/us-east-1/prod/db`. */
  secret: string | undefined;
  origin: Origin | undefined;
  eventId: string | undefined;
  correlationId: string | undefined;
  reason: string;
  retryable: boolean | undefined;
  message: string | undefined;
  code: string | undefined;
  status: number | undefined;
  deliveries: number | undefined;
  cell: string | undefined;
  /** The dead-lettered message in the mutations stream. */
  mutation: { stream: string | undefined; sequence: number | undefined; subject: string | undefined };
  replayable: boolean;
  /** Why the record cannot be replayed. */
  problem: string | undefined;
}

export interface ParsedDeadLetter {
  view: DeadLetterView;
  /** The validated mutation event, when the record holds one. */
  event: MutationEvent | undefined;
}

const DLQ_SUBJECT_PREFIX = `${PREFIX}.dlq.`;

/**
 * Reads a dead-letter record with the one schema that defines it (@credmesh/events): a record that
 * does not decode still yields a row (reason `unreadable_record`, the schema's issues as the
 * problem) instead of failing the listing, and only the schema's fields are ever shown.
 */
export function parseDeadLetter(stored: StoredRecord): ParsedDeadLetter {
  const destination = stored.subject.startsWith(DLQ_SUBJECT_PREFIX) ? stored.subject.slice(DLQ_SUBJECT_PREFIX.length) : stored.subject;
  let record: DeadLetterRecord;
  try {
    record = decodeDeadLetterRecord(stored.data);
  } catch (error) {
    const issues = error instanceof InvalidEventError ? error.issues.slice(0, 3).join("; ") : "undecodable";
    return { view: unreadable(stored, destination, `the record is not a valid dead-letter record (${issues})`), event: undefined };
  }
  const { event, error } = record;
  const view: DeadLetterView = {
    seq: stored.seq,
    at: record.at,
    destination,
    rule: event?.data.rule,
    kind: event?.data.kind,
    secret: event ? secretKeyOf(event.data.origin) : undefined,
    origin: event?.data.origin,
    eventId: event?.id,
    correlationId: event?.correlationid,
    reason: error.reason,
    retryable: error.retryable,
    message: error.message,
    code: error.code,
    status: error.status,
    deliveries: record.deliveries,
    cell: record.cell,
    mutation: { stream: record.stream, sequence: record.streamSequence, subject: record.subject },
    replayable: event !== undefined,
    problem: event === undefined ? "the record holds no mutation event (the message could not be decoded when it was dead-lettered)" : undefined,
  };
  return { view, event };
}

function unreadable(stored: StoredRecord, destination: string, problem: string): DeadLetterView {
  return {
    seq: stored.seq,
    at: stored.time.toISOString(),
    destination,
    rule: undefined,
    kind: undefined,
    secret: undefined,
    origin: undefined,
    eventId: undefined,
    correlationId: undefined,
    reason: "unreadable_record",
    retryable: undefined,
    message: undefined,
    code: undefined,
    status: undefined,
    deliveries: undefined,
    cell: undefined,
    mutation: { stream: undefined, sequence: undefined, subject: undefined },
    replayable: false,
    problem,
  };
}
