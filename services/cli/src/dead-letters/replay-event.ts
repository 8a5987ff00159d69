import { createHash } from "node:crypto";
import { buildMutationEvent, type MutationEvent } from "@credmesh/events";

/**
 * The event id of the replay of one dead letter: `replay:<dlq seq>:<12 hex of SHA-256 of the
 * record>`. Deterministic, so a replay interrupted between the JetStream ack and the deletion of
 * the record republishes the same id and JetStream stores it once (duplicate window); the digest
 * keeps it unique if the DLQ stream is ever recreated and its sequences start over.
 */
export function replayEventId(dlqSeq: number, record: Uint8Array): string {
  return `replay:${dlqSeq}:${createHash("sha256").update(record).digest("hex").slice(0, 12)}`;
}

/**
 * The mutation to republish for a dead letter: the same secret, rule, destination, kind and
 * versions, the same correlation id (so logs and audit link the replay to the original), a new
 * id, and trigger source `replay`. The trigger's own event id, time and actor are kept: they say
 * what happened at the origin, which a replay does not change (echo detection relies on the actor).
 */
export function buildReplayEvent(original: MutationEvent, id: string): MutationEvent {
  return buildMutationEvent({
    id,
    correlationId: original.correlationid,
    data: { ...original.data, trigger: { ...original.data.trigger, source: "replay" } },
  });
}
