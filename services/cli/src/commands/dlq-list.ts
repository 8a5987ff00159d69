import { STREAMS, deadLetterSubject, type Cloud } from "@credmesh/bus-names";
import { scanStream } from "../bus/scan.ts";
import { parseDeadLetter, type DeadLetterView } from "../dead-letters/record.ts";
import { formatTime, json, table } from "../output.ts";
import type { CommandContext, ExitCode } from "./context.ts";

export interface DlqListOptions {
  destination: Cloud | undefined;
  limit: number;
}

/** `credmesh dlq list`: the dead letters, oldest first, read without consuming them. */
export async function dlqList(ctx: CommandContext, options: DlqListOptions): Promise<ExitCode> {
  const filter = options.destination ? deadLetterSubject(options.destination) : (STREAMS.deadLetters.subjects[0] ?? "");
  const scan = await scanStream(ctx.nc, STREAMS.deadLetters.name, { filter, max: options.limit, timeoutMs: ctx.timeoutMs });
  const views = scan.records.map((record) => parseDeadLetter(record).view);
  ctx.io.out(renderDeadLetters(views, { total: scan.total, json: ctx.json, destination: options.destination }));
  if (!scan.complete) {
    ctx.io.err(`credmesh: the bus stopped answering after ${views.length} of ${Math.min(scan.total, options.limit)} dead letters`);
    return 1;
  }
  return 0;
}

export function renderDeadLetters(
  views: readonly DeadLetterView[],
  options: { total: number; json: boolean; destination?: Cloud | undefined },
): string {
  if (options.json) return json({ total: options.total, records: views });
  const scope = options.destination ? ` for destination ${options.destination}` : "";
  if (views.length === 0) return `no dead letters${scope}`;
  const rows = views.map((view) => [
    view.seq,
    formatTime(view.at),
    view.destination,
    view.rule,
    view.kind,
    view.secret,
    view.reason,
    view.deliveries,
    view.correlationId,
    view.replayable ? view.message : `not replayable: ${view.problem ?? "no event"}`,
  ]);
  const lines = [
    table(["SEQ", "TIME", "DEST", "RULE", "KIND", "SECRET", "REASON", "DELIVERIES", "CORRELATION ID", "DETAIL"], rows),
  ];
  if (options.total > views.length) lines.push(`showing ${views.length} of ${options.total} dead letters${scope} (oldest first; --limit to see more)`);
  return lines.join("\n");
}
