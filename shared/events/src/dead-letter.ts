import { REASONS, type ErrorRecord, type ReasonCode } from "@credmesh/errors";
import { CELL_ID } from "@credmesh/identifiers";
import { z } from "zod";
import { mutationEventSchema, type MutationEvent } from "./schema.ts";
import { capped, decoded, validated } from "./wire.ts";

/**
 * The dead-letter record: a mutation the replicator gave up on, on `credmesh.dlq.<destination>`
 * (stream CREDMESH_DLQ): where the message was, how often it was delivered, the classified error
 * with credmesh's sanitized message, and the mutation event itself (identifiers only) so that
 * `credmesh dlq replay` can republish it. Never a value, never a cloud's message text. Decoding
 * drops fields the schema does not know; the event inside is checked as strictly as on the
 * mutation stream.
 * @see ../../../README.md#operations
 */

const deadLetterErrorSchema = z.object({
  reason: z.enum(Object.keys(REASONS) as [ReasonCode, ...ReasonCode[]]),
  retryable: z.boolean(),
  message: z.string().max(1024),
  /** The cloud's error code (`ThrottlingException`, `ObjectIsBeingDeleted`…), when there was one. */
  code: z.string().max(128).optional(),
  status: z.number().int().min(100).max(599).optional(),
});

export const deadLetterRecordSchema = z.object({
  at: z.iso.datetime({ offset: true }),
  cell: z.string().regex(CELL_ID),
  /** Deliveries of the message when it was given up on. */
  deliveries: z.number().int().min(0),
  /** Where the message was: its stream, sequence and subject (`credmesh.mutation.<dest>.pNN`). */
  stream: z.string().min(1).max(256),
  streamSequence: z.number().int().min(0),
  subject: z.string().min(1).max(256),
  error: deadLetterErrorSchema,
  /** The mutation, when the message was a valid one (absent for a message that could not be decoded). */
  event: mutationEventSchema.optional(),
});

export type DeadLetterRecord = Readonly<z.infer<typeof deadLetterRecordSchema>>;

export interface DeadLetterInput {
  at: Date;
  cell: string;
  deliveries: number;
  stream: string;
  streamSequence: number;
  subject: string;
  error: ErrorRecord;
  event?: MutationEvent | undefined;
}

/** Builds, validates and freezes a dead-letter record. Throws {@link InvalidEventError}. */
export function buildDeadLetterRecord(input: DeadLetterInput): DeadLetterRecord {
  const { error } = input;
  return validated(
    deadLetterRecordSchema,
    {
      at: input.at.toISOString(),
      cell: input.cell,
      deliveries: input.deliveries,
      stream: input.stream,
      streamSequence: input.streamSequence,
      subject: input.subject,
      error: {
        reason: error.reason,
        retryable: error.retryable,
        message: capped(error.message, 1024),
        ...(error.code === undefined ? {} : { code: error.code }),
        ...(error.status === undefined ? {} : { status: error.status }),
      },
      ...(input.event === undefined ? {} : { event: input.event }),
    },
    "dead-letter record",
  );
}

/** Parses and validates a dead-letter record from the bus. Throws {@link InvalidEventError}. */
export function decodeDeadLetterRecord(bytes: Uint8Array): DeadLetterRecord {
  return decoded(deadLetterRecordSchema, bytes, "dead-letter record");
}
