import { createHash } from "node:crypto";
import type { BusPublisher, JsMsg } from "@credmesh/bus";
import { abortError, type CredmeshError } from "@credmesh/errors";
import { InvalidEventError, buildAuditRecord, buildDeadLetterRecord, decodeMutationEvent, type MutationEvent } from "@credmesh/events";
import { CredmeshError as Failure } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import { DECISION, DRIFT_ACTION, type Metrics } from "@credmesh/metrics";
import { STREAMS, auditSubject, deadLetterSubject, type Cloud } from "@credmesh/bus-names";
import type { MutationRun, Outcome } from "./converge/apply.ts";
import type { SecretLeases } from "./secret-lease.ts";

export interface HandlerDeps {
  destination: Cloud;
  /** Per-secret leases across replicas; omitted when this process is the only replica. */
  leases?: SecretLeases;
  cell: string;
  /**
   * Re-checks a mutation against the cell's configuration (admission.ts) before its lease or any
   * cloud call; throws `out_of_scope`, which dead-letters and audits it.
   */
  admit: (event: MutationEvent) => void;
  /** Converges one mutation; every cloud call and wait honours `run.signal`. */
  apply: (event: MutationEvent, run: MutationRun) => Promise<Outcome>;
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

  /**
   * Publishes the decision's audit record. When the bus does not take it, the message is not
   * acknowledged (the error is retryable): the redelivery decides again — idempotently, the
   * replica already being where the first decision put it — and records that decision. So every
   * settled mutation has its decision in the audit trail; a record is never silently missing.
   */
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
      await deps.publisher.publishRecord(STREAMS.audit.name, auditSubject(deps.destination, outcome.decision), record, auditMessageId(deps.destination, event, outcome));
    } catch (error) {
      deps.logger.error({ err: error, correlationId: event.correlationid, decision: outcome.decision }, "audit record not published; the mutation will be decided again");
      throw new Failure("bus_unavailable", `the audit record of event ${event.id} was not stored`, { cause: error });
    }
  };

  return {
    /** Ordering key: the secret the mutation concerns (the CloudEvent subject). */
    keyOf(msg: JsMsg): string {
      return decode(msg).subject;
    },

    /**
     * `deadline` is the consumer's: it aborts the work when the mutation's deadline passes. Losing
     * the secret's lease aborts it too, so no cloud call follows the loss; either way the message
     * is handed back to the bus (retryable) and the lease is released or left to expire.
     */
    async handle(msg: JsMsg, deadline: AbortSignal): Promise<void> {
      const event = decode(msg);
      const logger = deps.logger.child({ correlationId: event.correlationid, eventId: event.id, rule: event.data.rule });
      deps.admit(event);
      const lease = await deps.leases?.acquire(event.subject);
      const signal = lease ? AbortSignal.any([deadline, lease.lost]) : deadline;
      let outcome: Outcome;
      try {
        outcome = await deps.apply(event, { logger, signal, deliveries: msg.info.deliveryCount });
      } catch (error) {
        // An SDK aborted by the signal reports its own abort error: say why it was aborted.
        if (signal.aborted) {
          const reason = abortError(signal);
          logger.warn({ reason: reason.reason, leaseLost: lease?.lost.aborted ?? false }, "mutation abandoned before its next cloud call");
          throw reason;
        }
        throw error;
      } finally {
        await lease?.release();
      }
      deps.metrics.replicationDecisions.inc({ destination: deps.destination, decision: outcome.decision });
      const drift = outcome.decision === DECISION.skippedDrift ? DRIFT_ACTION.kept : outcome.destination.replacedVersionId ? DRIFT_ACTION.overwritten : undefined;
      if (drift) {
        deps.metrics.replicaDrift.inc({ destination: deps.destination, rule: event.data.rule, action: drift });
        logger.warn({ destination: outcome.destination, action: drift }, "replica changed by hand in the destination (drift)");
      }
      if (outcome.decision === DECISION.applied || outcome.decision === DECISION.overwroteDrift || outcome.decision === DECISION.deleted || outcome.decision === DECISION.restored) {
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

/**
 * The audit record's JetStream message id, derived from the decision: the destination, the event,
 * what was decided and which versions it concerns. A redelivery that reaches the same decision —
 * a write confirmed after its response was lost, an ack lost after the record was published —
 * publishes the same id, and JetStream keeps one record inside its duplicate window.
 */
export function auditMessageId(destination: string, event: MutationEvent, outcome: Outcome): string {
  const facts = [destination, event.id, outcome.decision, outcome.destination.vault, outcome.destination.name, outcome.destination.versionId ?? "", outcome.originVersion ?? ""];
  return `audit:${createHash("sha256").update(JSON.stringify(facts)).digest("hex").slice(0, 48)}`;
}
