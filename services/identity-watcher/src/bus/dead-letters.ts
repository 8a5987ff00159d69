import type { BusPublisher, JsMsg } from "@credmesh/bus";
import { STREAMS, identityDeadLetterSubject } from "@credmesh/bus-names";
import type { CredmeshError } from "@credmesh/errors";
import { buildDeadLetterRecord } from "@credmesh/events";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";

/** Who decided, in a dead-letter record of the watcher (its `cell` field; the watcher is no cell). */
export const WATCHER_DEAD_LETTER_CELL = "identity-watcher";

/**
 * The watcher's dead letters: a lifecycle event or observation it refused (invalid, inconsistent
 * with its subject) or gave up on after its deliveries, recorded on `credmesh.dlq.identity-watcher`
 * (stream CREDMESH_DLQ, the replicators' record shape, no mutation in it) where `credmesh dlq list`
 * shows it, and counted in `credmesh_dead_letters_total{destination="identity-watcher"}` (alerted on
 * like any dead letter). Resolves once the record is stored; if it cannot be, the consumer
 * redelivers the message instead of losing it.
 */
export function watcherDeadLetters(deps: { publisher: Pick<BusPublisher, "publishRecord">; metrics: Pick<Metrics, "deadLetters">; logger: Logger; now?: () => Date }) {
  return async (msg: JsMsg, error: CredmeshError): Promise<void> => {
    const record = buildDeadLetterRecord({
      at: (deps.now ?? (() => new Date()))(),
      cell: WATCHER_DEAD_LETTER_CELL,
      deliveries: msg.info.deliveryCount,
      stream: msg.info.stream,
      streamSequence: msg.seq,
      subject: msg.subject,
      error: error.toRecord(),
    });
    await deps.publisher.publishRecord(STREAMS.deadLetters.name, identityDeadLetterSubject(), record, `dlq:${msg.info.stream}:${msg.seq}`);
    deps.metrics.deadLetters.inc({ destination: WATCHER_DEAD_LETTER_CELL, reason: error.reason });
    deps.logger.error({ err: error, stream: msg.info.stream, seq: msg.seq, subject: msg.subject, deliveries: msg.info.deliveryCount }, "identity message dead-lettered");
  };
}
