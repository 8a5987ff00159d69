import { InvalidEventError, decodeMutationEvent, secretKeyOf, type MutationEvent, type Origin } from "@credmesh/events";
import { PREFIX } from "@credmesh/bus-names";
import { count, isObject, parseJson, text } from "../fields.ts";

/** A message as read from CREDMESH_DLQ. */
export interface StoredRecord {
  seq: number;
  subject: string;
  time: Date;
  data: Uint8Array;
}

/**
 * What the CLI shows of a dead letter: identifiers, the sanitized reason credmesh wrote, and
 * where the mutation was. Built field by field from the record (an allow-list), so nothing the
 * record might carry beyond these known fields is ever printed.
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
 * Reads a dead-letter record (the replicator's `DeadLetterRecord`) without trusting its shape:
 * every field is type-checked, the event is validated against the mutation schema, and a record
 * that is not JSON still yields a row (reason `unreadable_record`) instead of failing the listing.
 */
export function parseDeadLetter(stored: StoredRecord): ParsedDeadLetter {
  const destination = stored.subject.startsWith(DLQ_SUBJECT_PREFIX) ? stored.subject.slice(DLQ_SUBJECT_PREFIX.length) : stored.subject;
  const parsed = parseJson(stored.data);
  const record = isObject(parsed) ? parsed : {};
  let problem = isObject(parsed) ? undefined : "the record is not a JSON object";
  const error = isObject(record.error) ? record.error : {};

  let event: MutationEvent | undefined;
  if (problem === undefined) {
    if (record.event === undefined || record.event === null) {
      problem = "the record holds no mutation event (the message could not be decoded when it was dead-lettered)";
    } else {
      try {
        event = decodeMutationEvent(new TextEncoder().encode(JSON.stringify(record.event)));
      } catch (decodeError) {
        const issues = decodeError instanceof InvalidEventError ? decodeError.issues.slice(0, 3).join("; ") : "undecodable";
        problem = `the record's event is not a valid mutation event (${issues})`;
      }
    }
  }

  const mutation = {
    stream: text(record.stream),
    sequence: count(record.streamSequence),
    subject: text(record.subject),
  };
  const view: DeadLetterView = {
    seq: stored.seq,
    at: text(record.at) ?? stored.time.toISOString(),
    destination,
    rule: event?.data.rule,
    kind: event?.data.kind,
    secret: event ? secretKeyOf(event.data.origin) : undefined,
    origin: event?.data.origin,
    eventId: event?.id,
    correlationId: event?.correlationid,
    reason: text(error.reason) ?? (problem ? "unreadable_record" : "unknown"),
    retryable: typeof error.retryable === "boolean" ? error.retryable : undefined,
    message: text(error.message),
    code: text(error.code),
    status: count(error.status),
    deliveries: count(record.deliveries),
    cell: text(record.cell),
    mutation,
    replayable: event !== undefined,
    problem,
  };
  return { view, event };
}
