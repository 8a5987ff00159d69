import { randomUUID } from "node:crypto";
import { partitionOf, type Cloud } from "@credmesh/bus-names";
import { secretNameOfArn } from "@credmesh/identifiers";
import {
  MUTATION_EVENT_TYPE,
  SPEC_VERSION,
  mutationEventSchema,
  type MutationData,
  type MutationEvent,
  type Origin,
} from "./schema.ts";
import type { LifecycleEvent } from "./lifecycle.ts";
import { decoded, encoded, validated } from "./wire.ts";

export interface BuildMutationInput {
  /** Unique event id; defaults to the trigger's event id, else a random UUID. */
  id?: string;
  correlationId?: string;
  data: MutationData;
}

/**
 * Builds, validates and freezes a mutation event. The subject is the origin secret's identity,
 * so that `nats sub` output is readable and the partition is derivable from the event alone.
 */
export function buildMutationEvent(input: BuildMutationInput): MutationEvent {
  const id = input.id ?? input.data.trigger.eventId ?? randomUUID();
  const candidate = {
    specversion: SPEC_VERSION,
    id,
    source: sourceOf(input.data.origin),
    type: MUTATION_EVENT_TYPE,
    subject: secretKeyOf(input.data.origin),
    time: input.data.trigger.eventTime,
    datacontenttype: "application/json" as const,
    correlationid: input.correlationId ?? id,
    data: input.data,
  };
  return validated(mutationEventSchema, candidate, "mutation event");
}

/** The key a secret is known by at its origin; also the ordering / partitioning key. */
export function secretKeyOf(origin: Origin): string {
  if (origin.cloud === "aws") {
    return `aws/${origin.account}/${origin.region}/${origin.secretName ?? secretNameOfArn(origin.secretId) ?? origin.secretId}`;
  }
  return `azure/${origin.vaultName.toLowerCase()}/${origin.secretName.toLowerCase()}`;
}

/** The partition this event belongs to, stable for a secret. */
export function partitionOfEvent(event: MutationEvent, partitions: number): number {
  return partitionOf(event.subject, partitions);
}

export function destinationOf(event: MutationEvent): Cloud {
  return event.data.destination.cloud;
}

/** The bytes of an event (mutation or lifecycle) on the bus. */
export function encodeEvent(event: MutationEvent | LifecycleEvent): Uint8Array {
  return encoded(event);
}

/** Parses and validates bytes from the bus. Throws {@link InvalidEventError}. */
export function decodeMutationEvent(bytes: Uint8Array): MutationEvent {
  return decoded(mutationEventSchema, bytes, "mutation event");
}

function sourceOf(origin: Origin): string {
  return origin.cloud === "aws"
    ? `credmesh/ingest/aws/${origin.account}/${origin.region}`
    : `credmesh/ingest/azure/${origin.vaultName.toLowerCase()}`;
}
