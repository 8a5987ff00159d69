import { CLOUDS, controlSubject, replicatorDurable, type Cloud } from "@credmesh/bus-names";
import { RequestError, TimeoutError } from "@nats-io/transport-node";
import { isObject, parseJson, text } from "../fields.ts";
import { clean, json, table } from "../output.ts";
import type { CommandContext, ExitCode } from "./context.ts";

/**
 * The reply of a replicator to `credmesh.control.reconcile.<destination>` (request `{dryRun}`):
 * what it found and did (`actions`), counts by category, and what it could not check (`errors`).
 * Only identifier fields are read from the reply, and printed: an action names its secret either
 * as one `secret` string or as the replicator's `source` identity (cloud, account, region, vault,
 * name, version) plus the `destination` vault and name.
 */
interface ReconcileReport {
  runId: string | undefined;
  cell: string | undefined;
  durationMs: number | undefined;
  /** The replicator reported only the first findings. */
  truncated: boolean;
  actions: ReconcileAction[];
  counts: Record<string, number>;
  errors: Array<{ scope?: string; rule?: string; reason: string; message?: string }>;
}

interface ReconcileAction {
  action: string;
  reason: string;
  /** published, duplicate, dry_run, held, failed, reported ... */
  status?: string;
  rule?: string;
  secret?: string;
  destination?: string;
  eventId?: string;
}

type ReconcileOutcome = "ok" | "no_responders" | "timeout" | "refused" | "invalid_reply";

export interface ReconcileResult {
  destination: Cloud;
  outcome: ReconcileOutcome;
  report?: ReconcileReport;
  detail?: string;
}

export interface ReconcileOptions {
  destination: Cloud | undefined;
  dryRun: boolean;
}

/** `credmesh reconcile`: one request per destination, answered by one replicator of its queue group. */
export async function reconcile(ctx: CommandContext, options: ReconcileOptions): Promise<ExitCode> {
  const destinations = options.destination ? [options.destination] : [...CLOUDS];
  const results = await Promise.all(destinations.map((destination) => requestReconcile(ctx, destination, options.dryRun)));
  if (ctx.json) ctx.io.out(json({ dryRun: options.dryRun, results }));
  else ctx.io.out(results.map((result) => renderReconcileResult(result, options.dryRun)).join("\n\n"));
  const code = reconcileExitCode(results, options.destination !== undefined);
  if (results.every((result) => result.outcome === "no_responders")) ctx.io.err("credmesh: no replicator answered the reconcile request");
  return code;
}

async function requestReconcile(ctx: CommandContext, destination: Cloud, dryRun: boolean): Promise<ReconcileResult> {
  const subject = controlSubject("reconcile", destination);
  try {
    const reply = await ctx.nc.request(subject, JSON.stringify({ dryRun }), { timeout: ctx.timeoutMs });
    return parseReconcileReply(destination, reply.data);
  } catch (error) {
    if (error instanceof RequestError && error.isNoResponders()) {
      return { destination, outcome: "no_responders", detail: `no replicator answers on ${subject} (is ${replicatorDurable(destination)} running?)` };
    }
    if (error instanceof TimeoutError || (error instanceof RequestError && error.cause instanceof TimeoutError)) {
      return {
        destination,
        outcome: "timeout",
        detail: `no reply on ${subject} within ${ctx.timeoutMs / 1000} s (the reconcile may still be running; --timeout to wait longer)`,
      };
    }
    throw error;
  }
}

/** Reads a reply defensively: unknown fields are dropped, malformed ones reported. */
export function parseReconcileReply(destination: Cloud, data: Uint8Array): ReconcileResult {
  const body = parseJson(data);
  if (!isObject(body)) return { destination, outcome: "invalid_reply", detail: "the reply is not a JSON object" };
  if (body.error !== undefined) {
    const error = isObject(body.error) ? body.error : { message: body.error };
    const reason = text(error.code) ?? text(error.reason);
    const message = text(error.message);
    return { destination, outcome: "refused", detail: [reason, message].filter(Boolean).join(": ") || "the replicator refused" };
  }
  if (!Array.isArray(body.actions)) return { destination, outcome: "invalid_reply", detail: "the reply has no actions list" };
  const counts: Record<string, number> = {};
  if (isObject(body.counts)) {
    for (const [key, value] of Object.entries(body.counts)) if (typeof value === "number" && Number.isFinite(value)) counts[key] = value;
  }
  const errors = (Array.isArray(body.errors) ? body.errors : []).filter(isObject).map((error) => {
    const scope = text(error.scope) ?? text(error.secret);
    const rule = text(error.rule);
    const message = text(error.message);
    return { ...(scope ? { scope } : {}), ...(rule ? { rule } : {}), reason: text(error.reason) ?? "unknown", ...(message ? { message } : {}) };
  });
  return {
    destination,
    outcome: "ok",
    report: {
      runId: text(body.runId),
      cell: text(body.cell),
      durationMs: typeof body.durationMs === "number" ? body.durationMs : undefined,
      truncated: body.truncated === true,
      actions: body.actions.filter(isObject).map(actionOf),
      counts,
      errors,
    },
  };
}

function actionOf(raw: Record<string, unknown>): ReconcileAction {
  const fields: ReconcileAction = { action: text(raw.action) ?? "?", reason: text(raw.reason) ?? "?" };
  const secret = text(raw.secret) ?? identityOf(raw.source);
  const target = isObject(raw.destination) ? [text(raw.destination.vault), text(raw.destination.name)].filter(Boolean).join("/") : text(raw.destination);
  for (const [key, value] of [
    ["status", text(raw.status)],
    ["rule", text(raw.rule)],
    ["secret", secret],
    ["destination", target || undefined],
    ["eventId", text(raw.eventId)],
  ] as const) {
    if (value !== undefined) fields[key] = value;
  }
  return fields;
}

/** `aws/<account>/<region>/<name>` or `azure/<vault>/<name>`, like the mutation event subject. */
function identityOf(source: unknown): string | undefined {
  if (!isObject(source)) return undefined;
  const parts = [text(source.cloud), text(source.account), text(source.region), text(source.vault), text(source.name)].filter(Boolean);
  if (parts.length < 2) return undefined;
  const version = text(source.versionId);
  return `${parts.join("/")}${version ? `@${version}` : ""}`;
}

/**
 * 1 when something needs a look: a reconcile that failed or timed out, errors in a report, an
 * explicitly named destination that nobody serves, or no destination answering at all.
 */
export function reconcileExitCode(results: readonly ReconcileResult[], explicit: boolean): ExitCode {
  if (results.some((result) => result.outcome === "timeout" || result.outcome === "refused" || result.outcome === "invalid_reply")) return 1;
  if (results.some((result) => (result.report?.errors.length ?? 0) > 0)) return 1;
  const answered = results.filter((result) => result.outcome === "ok").length;
  if (answered === 0 || (explicit && answered < results.length)) return 1;
  return 0;
}

export function renderReconcileResult(result: ReconcileResult, dryRun: boolean): string {
  const title = `reconcile ${result.destination}${dryRun ? " (dry run)" : ""}`;
  if (result.outcome !== "ok" || !result.report) {
    const label = result.outcome === "no_responders" ? "skipped" : "FAILED";
    return `${title}: ${label}: ${clean(result.detail)}`;
  }
  const { actions, counts, errors } = result.report;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
  const run = [result.report.cell && `cell ${clean(result.report.cell)}`, result.report.runId && `run ${clean(result.report.runId)}`, result.report.durationMs !== undefined && `${(result.report.durationMs / 1000).toFixed(1)} s`]
    .filter(Boolean)
    .join(", ");
  const lines = [`${title}: ${plural(actions.length, "finding")}, ${plural(errors.length, "error")}${run ? ` (${run})` : ""}`];
  if (actions.length > 0) {
    lines.push(
      table(
        ["ACTION", "REASON", "STATUS", "RULE", "SECRET", "DESTINATION"],
        actions.map((a) => [a.action, a.reason, a.status, a.rule, a.secret, a.destination]),
      ),
    );
  }
  if (result.report.truncated) lines.push("(the replicator reported only the first findings; see its log for the rest)");
  const countText = Object.entries(counts).map(([key, value]) => `${clean(key)} ${value}`);
  if (countText.length > 0) lines.push(`counts: ${countText.join(", ")}`);
  if (errors.length > 0) lines.push("errors:", table(["SCOPE", "RULE", "REASON", "MESSAGE"], errors.map((e) => [e.scope, e.rule, e.reason, e.message])));
  return lines.join("\n");
}
