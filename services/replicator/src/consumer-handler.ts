import type { BusPublisher, JsMsg } from "@credmesh/bus";
import type { CredmeshError } from "@credmesh/errors";
import { InvalidEventError, buildAuditRecord, buildDeadLetterRecord, decodeMutationEvent, type MutationEvent } from "@credmesh/events";
import { CredmeshError as Failure } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import { DECISION, type Metrics } from "@credmesh/metrics";
import { STREAMS, auditSubject, deadLetterSubject, type Cloud } from "@credmesh/bus-names";
import type { Outcome } from "./converge/apply.ts";
import type { SecretLeases } from "./secret-lease.ts";

export interface HandlerDeps {
  destination: Cloud;
  /** Per-secret leases across replicas; omitted when this process is the only replica. */
  leases?: SecretLeases;
  cell: string;
  apply: (event: MutationEvent, logger: Logger) => Promise<Outcome>;
  publisher: BusPublisher;
  metrics: Metrics;
  logger: Logger;
  now?: () => Date;
}

/**
 * Glue between the consumer loop and the replication logic: decode, apply, count, audit; and the
 * dead-letter writer. Every log line carries the correlation id of the mutation.
 */
export function createHandlers(deps: HandlerDeps) {
  const now = deps.now ?? (() => new Date());

  // keyOf and handle both need the event; decode each message once.
  const decoded = new WeakMap<JsMsg, MutationEvent>();
  const decode = (msg: JsMsg): MutationEvent => {
    const known = decoded.get(msg);
    if (known) return known;
    try {
      const event = decodeMutationEvent(msg.data);
      decoded.set(msg, event);
      return event;
    } catch (error) {
      const issues = error instanceof InvalidEventError ? error.issues.join("; ") : "undecodable";
      throw new Failure("invalid_event", `message ${msg.seq} is not a valid mutation event: ${issues}`, { cause: error });
    }
  };

  const audit = async (event: MutationEvent, outcome: Outcome): Promise<void> => {
    try {
      const record = buildAuditRecord({
        event,
        decision: outcome.decision,
        at: now(),
        cell: deps.cell,
        originVersion: outcome.originVersion,
        destination: { cloud: deps.destination, ...outcome.destination },
        detail: outcome.detail,
      });
      await deps.publisher.publishRecord(STREAMS.audit.name, auditSubject(deps.destination, outcome.decision), record);
    } catch (error) {
      deps.logger.error({ err: error, correlationId: event.correlationid }, "audit record not published");
    }
  };

  return {
    /** Ordering key: the secret the mutation concerns (the CloudEvent subject). */
    keyOf(msg: JsMsg): string {
      return decode(msg).subject;
    },

    async handle(msg: JsMsg): Promise<void> {
      const event = decode(msg);
      const logger = deps.logger.child({ correlationId: event.correlationid, eventId: event.id, rule: event.data.rule });
      const lease = await deps.leases?.acquire(event.subject);
      let outcome: Outcome;
      try {
        outcome = await deps.apply(event, logger);
      } finally {
        await lease?.release();
      }
      deps.metrics.replicationDecisions.inc({ destination: deps.destination, decision: outcome.decision });
      if (outcome.decision === DECISION.applied || outcome.decision === DECISION.deleted || outcome.decision === DECISION.restored) {
        const lagSeconds = (now().getTime() - Date.parse(event.data.trigger.eventTime)) / 1000;
        deps.metrics.replicationLag.observe({ destination: deps.destination }, Math.max(0, lagSeconds));
      }
      logger.info(
        { decision: outcome.decision, kind: event.data.kind, destination: outcome.destination, originVersion: outcome.originVersion, deliveries: msg.info.deliveryCount },
        "mutation settled",
      );
      await audit(event, outcome);
    },

    onRetry(msg: JsMsg, error: CredmeshError, delayMs: number): void {
      deps.metrics.replicationFailures.inc({ destination: deps.destination, reason: error.reason, retryable: "true" });
      deps.metrics.replicationDecisions.inc({ destination: deps.destination, decision: DECISION.retried });
      deps.logger.warn({ err: error, seq: msg.seq, deliveries: msg.info.deliveryCount, delayMs }, "mutation will be retried");
    },

    async deadLetter(msg: JsMsg, error: CredmeshError): Promise<void> {
      let event: MutationEvent | undefined;
      try {
        event = decode(msg);
      } catch {
        event = undefined;
      }
      const record = buildDeadLetterRecord({
        at: now(),
        cell: deps.cell,
        deliveries: msg.info.deliveryCount,
        stream: msg.info.stream,
        streamSequence: msg.seq,
        subject: msg.subject,
        error: error.toRecord(),
        event,
      });
      // The stream sequence makes the record's id unique per message and stable across retries.
      await deps.publisher.publishRecord(STREAMS.deadLetters.name, deadLetterSubject(deps.destination), record, `dlq:${msg.info.stream}:${msg.seq}`);
      deps.metrics.replicationFailures.inc({ destination: deps.destination, reason: error.reason, retryable: String(error.retryable) });
      deps.metrics.deadLetters.inc({ destination: deps.destination, reason: error.reason });
      deps.metrics.replicationDecisions.inc({ destination: deps.destination, decision: DECISION.deadLettered });
      deps.logger.error(
        { err: error, seq: msg.seq, deliveries: msg.info.deliveryCount, correlationId: event?.correlationid },
        "mutation dead-lettered",
      );
      if (event) {
        await audit(event, {
          decision: DECISION.deadLettered,
          destination: { vault: "", name: "" },
          detail: `${error.reason}: ${error.message}`,
        });
      }
    },
  };
}
