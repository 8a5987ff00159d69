import { randomUUID } from "node:crypto";
import { partitionOf, type Cloud } from "@credmesh/bus-names";
import { type z } from "zod";
import {
  MUTATION_EVENT_TYPE,
  SPEC_VERSION,
  mutationEventSchema,
  type MutationData,
  type MutationEvent,
  type Origin,
} from "./schema.ts";

/** Raised when bytes or an object are not a valid mutation event. Carries paths, never values. */
export class InvalidEventError extends Error {
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(`invalid mutation event: ${issues.join("; ")}`);
    this.name = "InvalidEventError";
    this.issues = issues;
  }
}

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
  return deepFreeze(validate(candidate));
}

/** The key a secret is known by at its origin; also the ordering / partitioning key. */
export function secretKeyOf(origin: Origin): string {
  if (origin.cloud === "aws") {
    return `aws/${origin.account}/${origin.region}/${origin.secretName ?? nameFromArn(origin.secretId) ?? origin.secretId}`;
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

/**
 * The secret name inside a Secrets Manager ARN (`...:secret:<name>-<6 chars>`). AWS appends six
 * random characters; the name itself may contain dashes, so only the last suffix is removed.
 */
export function nameFromArn(arnOrName: string): string | undefined {
  const match = /^arn:aws[a-z-]*:secretsmanager:[^:]+:\d{12}:secret:(.+)-[A-Za-z0-9]{6}$/.exec(arnOrName);
  return match?.[1];
}

const UTF8 = new TextEncoder();

export function encodeEvent(event: MutationEvent): Uint8Array {
  return UTF8.encode(JSON.stringify(event));
}

/** Parses and validates bytes from the bus. Throws {@link InvalidEventError}. */
export function decodeMutationEvent(bytes: Uint8Array): MutationEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new InvalidEventError(["body is not UTF-8 JSON"]);
  }
  return deepFreeze(validate(parsed));
}

function validate(candidate: unknown): z.infer<typeof mutationEventSchema> {
  const result = mutationEventSchema.safeParse(candidate);
  if (!result.success) {
    // Paths and zod's own messages only; never echo the offending input.
    throw new InvalidEventError(result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`));
  }
  return result.data;
}

function sourceOf(origin: Origin): string {
  return origin.cloud === "aws"
    ? `credmesh/ingest/aws/${origin.account}/${origin.region}`
    : `credmesh/ingest/azure/${origin.vaultName.toLowerCase()}`;
}

/**
 * Freezes a tree of plain objects and arrays (what zod and JSON.parse return: no cycles, no
 * prototypes with state). Children first, by `for…in`, with no allocation: this runs for every
 * event ingest builds and every event a consumer decodes.
 */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const key in value) deepFreeze(value[key]);
    Object.freeze(value);
  }
  return value;
}
