import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { IDENTITY_WATCHER_GROUP, cellToken, quarantineControlFilter, type QuarantineCommand } from "@credmesh/bus-names";
import type { Logger } from "@credmesh/logging";
import { CONTROL_OUTCOME, type Metrics } from "@credmesh/metrics";
import { z } from "zod";
import type { LayerResults, QuarantineEnforcer } from "./enforcer.ts";
import type { QuarantineService, TransitionResult } from "./service.ts";

/** The request body of `credmesh.control.quarantine.<cell>` and `credmesh.control.release.<cell>`. */
export const controlRequestSchema = z.strictObject({
  cell: z.string().regex(/^[A-Za-z0-9_.@-]{2,64}$/),
  reason: z.string().trim().min(1).max(1024),
  by: z.string().trim().min(1).max(256),
});

/** The reply: the outcome, the cell's record and what each layer did; or a structured error. */
export type ControlReply =
  | {
      ok: true;
      command: QuarantineCommand;
      outcome: TransitionResult["outcome"];
      cell: string;
      record: TransitionResult["record"];
      revision: number;
      layers: { mesh: "applied" } & Partial<LayerResults>;
      warnings: string[];
    }
  | { ok: false; error: { code: "invalid_request" | "failed"; message: string; issues?: string[] } };

/**
 * Serves the operator commands (core NATS request/reply, queue group: one watcher replica answers).
 * Who may send them is NATS's permission to publish on the subject (only the operator role may,
 * @credmesh/bus-roles); the request names the operator (`by`, a claim recorded for audit — NATS
 * does not tell a subscriber who published) and the reason. Each request is re-checked (valid
 * JSON of the schema, the subject's cell is the body's) and counted by outcome. The in-mesh layer is in effect once the reply says
 * `mesh: applied` (the KV write is what the replicators watch); the cloud layers are applied before
 * replying, each within the layer timeout, and retried by the enforcer if they failed.
 */
export function serveControl(
  nc: NatsConnection,
  deps: ControlDeps,
): Subscription[] {
  return (["quarantine", "release"] as const).map((command) =>
    nc.subscribe(quarantineControlFilter(command), {
      queue: IDENTITY_WATCHER_GROUP,
      callback: (error, msg) => {
        if (error) {
          deps.logger.error({ err: error, command }, "control subscription failed");
          return;
        }
        void handle(command, msg.subject, msg.data, deps).then((reply) => {
          const outcome = reply.ok ? CONTROL_OUTCOME.ok : reply.error.code === "invalid_request" ? CONTROL_OUTCOME.invalidRequest : CONTROL_OUTCOME.failed;
          deps.metrics.controlRequests.inc({ command, outcome });
          if (outcome === CONTROL_OUTCOME.invalidRequest) deps.logger.warn({ command, subject: msg.subject, issues: reply.ok ? undefined : reply.error.issues ?? reply.error.message }, "operator command refused");
          if (msg.reply) msg.respond(JSON.stringify(reply));
        });
      },
    }),
  );
}

interface ControlDeps {
  service: QuarantineService;
  enforcer: QuarantineEnforcer;
  knownCells: ReadonlySet<string>;
  layerTimeoutMs: number;
  metrics: Pick<Metrics, "controlRequests">;
  logger: Logger;
}

async function handle(command: QuarantineCommand, subject: string, data: Uint8Array, deps: ControlDeps): Promise<ControlReply> {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return invalid("the request is not JSON");
  }
  const parsed = controlRequestSchema.safeParse(body);
  if (!parsed.success) return invalid("the request is not valid", parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`));
  const { cell, reason, by } = parsed.data;
  if (subject.split(".").at(-1) !== cellToken(cell)) return invalid(`the subject ${subject} is not the cell ${cell}'s`);
  const warnings = deps.knownCells.has(cell) ? [] : [`cell ${cell} is not in the identity-watcher's cells file: only the in-mesh layer applies`];
  try {
    const result = command === "quarantine" ? await deps.service.quarantine(cell, { reason, by, trigger: { type: "operator" } }) : await deps.service.release(cell, { reason, by });
    const changed = result.outcome === "quarantined" || result.outcome === "released";
    // Also on a repeated command: it re-applies the cloud layers, which the operator may be retrying for.
    const layers = result.record ? await deps.enforcer.apply(cell, result.record, AbortSignal.timeout(deps.layerTimeoutMs)) : undefined;
    deps.logger.info({ command, cell, outcome: result.outcome, by, layers }, changed ? "operator command applied" : "operator command changed nothing");
    return { ok: true, command, outcome: result.outcome, cell, record: result.record, revision: result.revision, layers: { mesh: "applied", ...layers }, warnings };
  } catch (error) {
    deps.logger.error({ err: error, command, cell }, "operator command failed");
    return { ok: false, error: { code: "failed", message: `the ${command} of ${cell} could not be stored; nothing changed or the bus is unavailable — try again` } };
  }
}

function invalid(message: string, issues?: string[]): ControlReply {
  return { ok: false, error: { code: "invalid_request", message, ...(issues ? { issues } : {}) } };
}
