import { userInfo, hostname } from "node:os";
import { quarantineControlSubject, type QuarantineCommand } from "@credmesh/bus-names";
import { RequestError, TimeoutError } from "@nats-io/transport-node";
import { isObject, parseJson, text } from "../fields.ts";
import { clean, formatTime, json, table } from "../output.ts";
import type { CommandContext, ExitCode } from "./context.ts";

export interface QuarantineOptions {
  name: QuarantineCommand;
  cell: string;
  reason: string;
  /** Who asks; default `$CREDMESH_OPERATOR`, else `<user>@<host>`. Audited with the reason. */
  by: string | undefined;
}

/** What the CLI shows of the identity-watcher's reply, read field by field. */
export interface QuarantineResult {
  command: QuarantineCommand;
  cell: string;
  /** When the request left this process (ISO 8601, ms): where the command's effect is timed from. */
  requestedAt?: string;
  outcome: "quarantined" | "already_quarantined" | "released" | "not_quarantined" | "refused" | "no_responders" | "timeout" | "invalid_reply";
  detail?: string;
  state?: string;
  since?: string;
  by?: string;
  reason?: string;
  layers: Record<string, string>;
  warnings: string[];
}

/**
 * `credmesh quarantine <cell> --reason TEXT` and `credmesh release <cell> --reason TEXT`: a request
 * on `credmesh.control.<command>.<cell>`, answered by the identity-watcher once the cell's state is
 * stored (the replicators follow within a second) and the cloud layers were applied or reported.
 */
export async function quarantine(ctx: CommandContext, options: QuarantineOptions, env: NodeJS.ProcessEnv = process.env): Promise<ExitCode> {
  const by = options.by ?? env.CREDMESH_OPERATOR ?? `${safeUser()}@${hostname()}`;
  const subject = quarantineControlSubject(options.name, options.cell);
  let result: QuarantineResult;
  const requestedAt = new Date().toISOString();
  try {
    const reply = await ctx.nc.request(subject, JSON.stringify({ cell: options.cell, reason: options.reason, by }), { timeout: ctx.timeoutMs });
    result = { ...parseQuarantineReply(options.name, options.cell, reply.data), requestedAt };
  } catch (error) {
    if (error instanceof RequestError && error.isNoResponders()) {
      result = { command: options.name, cell: options.cell, outcome: "no_responders", detail: `no identity-watcher answers on ${subject}`, layers: {}, warnings: [] };
    } else if (error instanceof TimeoutError || (error instanceof RequestError && error.cause instanceof TimeoutError)) {
      result = { command: options.name, cell: options.cell, outcome: "timeout", detail: `no reply within ${ctx.timeoutMs / 1000} s; check the cell with credmesh status`, layers: {}, warnings: [] };
    } else {
      throw error;
    }
  }
  ctx.io.out(ctx.json ? json(result) : renderQuarantineResult(result));
  return ["quarantined", "already_quarantined", "released", "not_quarantined"].includes(result.outcome) ? 0 : 1;
}

/** Reads the watcher's reply defensively: unknown fields dropped, every shown field type-checked. */
export function parseQuarantineReply(command: QuarantineCommand, cell: string, data: Uint8Array): QuarantineResult {
  const body = parseJson(data);
  const base = { command, cell, layers: {}, warnings: [] };
  if (!isObject(body)) return { ...base, outcome: "invalid_reply", detail: "the reply is not a JSON object" };
  if (body.ok !== true) {
    const error = isObject(body.error) ? body.error : {};
    const issues = Array.isArray(error.issues) ? error.issues.map(text).filter(Boolean).join("; ") : "";
    return { ...base, outcome: "refused", detail: [text(error.code), text(error.message), issues].filter(Boolean).join(": ") || "the identity-watcher refused" };
  }
  const outcome = text(body.outcome);
  if (outcome !== "quarantined" && outcome !== "already_quarantined" && outcome !== "released" && outcome !== "not_quarantined") {
    return { ...base, outcome: "invalid_reply", detail: "the reply has no known outcome" };
  }
  const record = isObject(body.record) ? body.record : {};
  const layers: Record<string, string> = {};
  if (isObject(body.layers)) {
    for (const [layer, value] of Object.entries(body.layers)) {
      const status = typeof value === "string" ? value : isObject(value) ? [text(value.status), text(value.detail)].filter(Boolean).join(": ") : undefined;
      if (status) layers[layer] = status;
    }
  }
  return {
    ...base,
    outcome,
    ...(text(record.state) ? { state: text(record.state) } : {}),
    ...(text(record.at) ? { since: text(record.at) } : {}),
    ...(text(record.by) ? { by: text(record.by) } : {}),
    ...(text(record.reason) ? { reason: text(record.reason) } : {}),
    layers,
    warnings: Array.isArray(body.warnings) ? body.warnings.map(text).filter((w): w is string => w !== undefined) : [],
  };
}

const SAID: Record<QuarantineResult["outcome"], string> = {
  quarantined: "quarantined",
  already_quarantined: "was already quarantined (nothing changed)",
  released: "released",
  not_quarantined: "was not quarantined (nothing changed)",
  refused: "FAILED",
  no_responders: "FAILED",
  timeout: "FAILED",
  invalid_reply: "FAILED",
};

export function renderQuarantineResult(result: QuarantineResult): string {
  const lines = [`cell ${clean(result.cell)} ${SAID[result.outcome]}${result.detail ? `: ${clean(result.detail)}` : ""}`];
  if (result.state) lines.push(`state ${clean(result.state)} since ${formatTime(result.since) ?? "-"} by ${clean(result.by)}: ${clean(result.reason)}`);
  const layers = Object.entries(result.layers);
  if (layers.length > 0) lines.push(table(["LAYER", "STATUS"], layers));
  for (const warning of result.warnings) lines.push(`warning: ${clean(warning)}`);
  return lines.join("\n");
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
