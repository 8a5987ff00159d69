import type { BusPublisher } from "@credmesh/bus";
import { buildAuditRecord, type MutationEvent } from "@credmesh/events";
import type { Logger } from "@credmesh/logging";
import { DECISION, type Metrics } from "@credmesh/metrics";
import { STREAMS, auditSubject, type Cloud } from "@credmesh/bus-names";
import { STATUS, runErrorOf, type Finding, type RunError } from "./report.ts";

/** A finding with what publishing it needs. */
export interface Pending {
  finding: Finding;
  event?: MutationEvent;
}

export interface PublishDeps {
  destination: Cloud;
  cell: string;
  publisher: Pick<BusPublisher, "publishMutation" | "publishRecord">;
  metrics: Pick<Metrics, "replicationDecisions">;
  logger: Logger;
  now: () => Date;
}

/**
 * Publishes the corrective mutations of a run, each awaited until JetStream acknowledged it (or
 * said it already had it), then audits it under `credmesh.audit.<destination>.reconciled` with
 * identifiers only. Sets each finding's status; a failed publish (of a correction or of its audit
 * record, after the publisher's own retries) is an error of the run, not a reason to stop the others. Stops publishing when `signal` aborts (shutdown, lost lock).
 */
export async function publishCorrections(pending: readonly Pending[], runId: string, deps: PublishDeps, signal: AbortSignal | undefined, errors: RunError[]): Promise<void> {
  for (const { finding, event } of pending) {
    if (!event || finding.status !== STATUS.published) continue;
    if (signal?.aborted) {
      finding.status = STATUS.failed;
      if (!errors.some((error) => error.reason === "stopped")) {
        errors.push({ scope: "run", reason: "stopped", message: "the run stopped before publishing every corrective mutation (shutdown or lost lock)" });
      }
      continue;
    }
    try {
      const published = await deps.publisher.publishMutation(event);
      finding.status = published.duplicate ? STATUS.duplicate : STATUS.published;
    } catch (error) {
      finding.status = STATUS.failed;
      errors.push(runErrorOf(`publish ${event.id}`, error, finding.rule));
      continue;
    }
    deps.metrics.replicationDecisions.inc({ destination: deps.destination, decision: DECISION.reconciled });
    deps.logger.info(
      { eventId: event.id, action: finding.action, reason: finding.reason, destination: finding.destination, duplicate: finding.status === STATUS.duplicate },
      "corrective mutation published",
    );
    try {
      const record = buildAuditRecord({
        event,
        decision: DECISION.reconciled,
        at: deps.now(),
        cell: deps.cell,
        originVersion: finding.source?.versionId,
        destination: { cloud: deps.destination, vault: finding.destination.vault, name: finding.destination.name },
        detail: `reconcile: ${finding.reason}`,
        reconcile: { runId, reason: finding.reason },
      });
      // Same id as the mutation: a correction repeated inside the duplicate window is audited once.
      await deps.publisher.publishRecord(STREAMS.audit.name, auditSubject(deps.destination, DECISION.reconciled), record, `audit:${event.id}`);
    } catch (error) {
      // The correction is on the bus and will be applied (and audited by the replicator that
      // applies it); the run reports the missing record of its own decision instead of dropping it.
      deps.logger.error({ err: error, eventId: event.id }, "audit record not published");
      errors.push(runErrorOf(`audit ${event.id}`, error, finding.rule));
    }
  }
}
