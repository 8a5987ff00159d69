import { BusPublisher, type PublishResult } from "@credmesh/bus";
import { partitionOfEvent } from "@credmesh/events";
import { STREAMS, deadLetterSubject, mutationSubject, type Cloud } from "@credmesh/bus-names";
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { scanStream } from "../bus/scan.ts";
import { parseDeadLetter, type StoredRecord } from "../dead-letters/record.ts";
import { buildReplayEvent, replayEventId } from "../dead-letters/replay-event.ts";
import { clean, json } from "../output.ts";
import type { CommandContext, ExitCode } from "./context.ts";

export interface DlqReplayOptions {
  select: { seqs: number[] } | { all: true };
  destination: Cloud | undefined;
  dryRun: boolean;
  limit: number;
}

const REPLAY_OUTCOMES = ["replayed", "would_replay", "not_found", "skipped", "not_replayable", "failed"] as const;
type ReplayOutcome = (typeof REPLAY_OUTCOMES)[number];

/** What happened to one dead letter; identifiers only. */
interface ReplayResult {
  seq: number;
  outcome: ReplayOutcome;
  destination?: string;
  rule?: string;
  secret?: string;
  correlationId?: string;
  /** Id of the republished mutation event (`replay:<seq>:<digest>`). */
  eventId?: string;
  /** Mutation subject it was (or would be) published on. */
  subject?: string;
  /** Its sequence in CREDMESH_MUTATIONS. */
  streamSequence?: number;
  /** JetStream already had this replay (an earlier, interrupted run published it). */
  duplicate?: boolean;
  /** The dead letter was deleted from CREDMESH_DLQ. */
  removed?: boolean;
  detail?: string;
  warning?: string;
}

/**
 * `credmesh dlq replay`: republish each selected dead letter's mutation, oldest first and one at a
 * time (so mutations of one secret keep their order), wait for the JetStream ack, then delete the
 * record so it is never replayed twice.
 */
export async function dlqReplay(ctx: CommandContext, options: DlqReplayOptions): Promise<ExitCode> {
  const jsm = await jetstreamManager(ctx.nc, { timeout: ctx.timeoutMs });
  const publisher = new BusPublisher(ctx.nc, { timeoutMs: ctx.timeoutMs, partitions: ctx.partitions });
  const results: ReplayResult[] = [];
  const report = (result: ReplayResult): void => {
    results.push(result);
    if (!ctx.json) ctx.io.out(renderReplayResult(result, options.dryRun));
  };

  if ("all" in options.select) {
    const filter = options.destination ? deadLetterSubject(options.destination) : (STREAMS.deadLetters.subjects[0] ?? "");
    const scan = await scanStream(ctx.nc, STREAMS.deadLetters.name, { filter, max: options.limit, timeoutMs: ctx.timeoutMs });
    for (const record of scan.records) report(await replayOne(record, { ...ctx, jsm, publisher }, options));
  } else {
    for (const seq of options.select.seqs) {
      const stored = await jsm.streams.getMessage(STREAMS.deadLetters.name, { seq });
      if (!stored) {
        report({ seq, outcome: "not_found", detail: `no dead letter ${seq} in ${STREAMS.deadLetters.name}: already replayed, or expired` });
        continue;
      }
      report(await replayOne({ seq: stored.seq, subject: stored.subject, time: stored.time, data: stored.data }, { ...ctx, jsm, publisher }, options));
    }
  }

  const summary = summarize(results);
  if (ctx.json) ctx.io.out(json({ dryRun: options.dryRun, results, summary }));
  else ctx.io.out(renderSummary(summary, options));
  return summary.failed > 0 || summary.not_replayable > 0 ? 1 : 0;
}

interface ReplayDeps {
  jsm: JetStreamManager;
  publisher: BusPublisher;
  partitions: number;
}

async function replayOne(record: StoredRecord, deps: ReplayDeps, options: DlqReplayOptions): Promise<ReplayResult> {
  const { view, event } = parseDeadLetter(record);
  const base: ReplayResult = {
    seq: view.seq,
    outcome: "failed",
    destination: view.destination,
    ...(view.rule ? { rule: view.rule } : {}),
    ...(view.secret ? { secret: view.secret } : {}),
    ...(view.correlationId ? { correlationId: view.correlationId } : {}),
  };
  if (options.destination && view.destination !== options.destination) {
    return { ...base, outcome: "skipped", detail: `dead letter of destination ${view.destination}, not ${options.destination}` };
  }
  if (!event) return { ...base, outcome: "not_replayable", detail: `${view.problem ?? "no mutation event"}; left in ${STREAMS.deadLetters.name}` };

  const replay = buildReplayEvent(event, replayEventId(view.seq, record.data));
  const subject = mutationSubject(replay.data.destination.cloud, partitionOfEvent(replay, deps.partitions));
  const planned: ReplayResult = { ...base, eventId: replay.id, subject };
  // The dead-lettered message tells which partition this deployment used for the secret; a
  // different one means CREDMESH_PARTITIONS here differs from the services'.
  if (view.mutation.subject?.startsWith("credmesh.mutation.") && view.mutation.subject !== subject) {
    planned.warning = `the original mutation was on ${view.mutation.subject}; with ${deps.partitions} partitions the replay goes to ${subject} (is CREDMESH_PARTITIONS the same as the services'?)`;
  }
  if (options.dryRun) return { ...planned, outcome: "would_replay" };

  let published: PublishResult;
  try {
    published = await deps.publisher.publishMutation(replay);
  } catch {
    return { ...planned, outcome: "failed", detail: `JetStream did not acknowledge the republish; the dead letter is kept, run the replay again` };
  }
  const done: ReplayResult = { ...planned, subject: published.subject, streamSequence: published.seq, duplicate: published.duplicate };
  try {
    await deps.jsm.streams.deleteMessage(STREAMS.deadLetters.name, view.seq, false);
  } catch (error) {
    // Someone else (a concurrent replay) removed it first: the goal is reached either way.
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.NoMessageFound)) {
      return {
        ...done,
        outcome: "failed",
        removed: false,
        detail: `republished, but the dead letter could not be removed from ${STREAMS.deadLetters.name}; run the same replay again (JetStream deduplicates the republish)`,
      };
    }
  }
  return { ...done, outcome: "replayed", removed: true };
}

type ReplaySummary = Record<ReplayOutcome, number>;

function summarize(results: readonly ReplayResult[]): ReplaySummary {
  const summary = Object.fromEntries(REPLAY_OUTCOMES.map((outcome) => [outcome, 0])) as ReplaySummary;
  for (const result of results) summary[result.outcome]++;
  return summary;
}

function renderReplayResult(result: ReplayResult, dryRun: boolean): string {
  const who = [result.secret && `secret ${clean(result.secret)}`, result.rule && `rule ${clean(result.rule)}`, result.correlationId && `correlation id ${clean(result.correlationId)}`]
    .filter(Boolean)
    .join(", ");
  const lines: string[] = [];
  switch (result.outcome) {
    case "replayed":
      lines.push(
        `dead letter ${result.seq}: replayed as ${clean(result.eventId)} → ${clean(result.subject)} (${STREAMS.mutations.name} seq ${clean(result.streamSequence)}${result.duplicate ? ", already there from an earlier run" : ""}); removed from ${STREAMS.deadLetters.name}`,
      );
      break;
    case "would_replay":
      lines.push(`dead letter ${result.seq}: would replay as ${clean(result.eventId)} → ${clean(result.subject)}${dryRun ? " (dry run, nothing changed)" : ""}`);
      break;
    case "not_found":
      lines.push(`dead letter ${result.seq}: nothing to replay (${clean(result.detail)})`);
      break;
    default:
      lines.push(`dead letter ${result.seq}: ${result.outcome.replace("_", " ")} (${clean(result.detail)})`);
  }
  if (who) lines.push(`  ${who}`);
  if (result.warning) lines.push(`  warning: ${clean(result.warning)}`);
  return lines.join("\n");
}

function renderSummary(summary: ReplaySummary, options: Pick<DlqReplayOptions, "dryRun" | "destination">): string {
  const total = REPLAY_OUTCOMES.reduce((sum, outcome) => sum + summary[outcome], 0);
  if (total === 0 || summary.not_found === total) {
    const scope = options.destination ? ` for destination ${options.destination}` : "";
    return total === 0 ? `nothing to replay: no dead letters${scope}` : "nothing to replay";
  }
  const parts = REPLAY_OUTCOMES.filter((outcome) => summary[outcome] > 0).map((outcome) => `${summary[outcome]} ${outcome.replace("_", " ")}`);
  return `${options.dryRun ? "dry run: " : ""}${parts.join(", ")}`;
}
