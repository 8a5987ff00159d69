import { decodeAuditRecord, decodeQuarantineRecord, secretKeyOf, type AuditRecord } from "@credmesh/events";
import { DECISION } from "@credmesh/metrics";
import { CLOUDS, KV_BUCKETS, STREAMS, replicatorDurable, type Cloud } from "@credmesh/bus-names";
import { Kvm } from "@nats-io/kv";
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type ConsumerInfo, type JetStreamManager, type StreamInfo } from "@nats-io/jetstream";
import { scanStream } from "../bus/scan.ts";
import type { StoredRecord } from "../dead-letters/record.ts";
import { formatBytes, formatTime, json, table } from "../output.ts";
import type { CommandContext, ExitCode } from "./context.ts";

interface ConsumerStatus {
  name: string;
  /** Messages not yet delivered to any replica. */
  pending: number;
  /** Delivered, not yet acknowledged (in flight or awaiting redelivery). */
  ackPending: number;
  redelivered: number;
  /** Pull requests waiting: roughly, idle replicator replicas. */
  waiting: number;
  lastActive: string | undefined;
  /**
   * For consumers with a pinned-client priority group (one per partition): whether a replica
   * holds the pin now. JetStream pins a replica when it delivers to it, so an idle partition
   * shows "no"; WAITING says whether replicas are pulling.
   */
  pinned: boolean | undefined;
}

interface DestinationStatus {
  destination: Cloud;
  consumers: ConsumerStatus[];
  /** Mutations stored for this destination (all partitions). */
  mutations: number;
  deadLetters: number;
}

interface StreamStatus {
  name: string;
  missing: boolean;
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  consumers: number;
}

export interface RuleStatus {
  rule: string;
  destination: string;
  /** The last decision audited for this rule. */
  decision: string;
  at: string | undefined;
  secret: string | undefined;
  correlationId: string | undefined;
  /** When this rule last wrote to its destination (applied, overwrote_drift, deleted, restored, recovered). */
  lastWriteAt: string | undefined;
}

/** A cell's quarantine state, from the credmesh-quarantine bucket. */
export interface CellStatus {
  cell: string;
  state: "quarantined" | "active" | "invalid";
  since: string | undefined;
  by: string | undefined;
  reason: string | undefined;
  /** `operator`, or the policy that quarantined the cell. */
  trigger: string | undefined;
}

export interface StatusReport {
  /** undefined: the quarantine bucket does not exist yet (no watcher or replicator has started). */
  cells: CellStatus[] | undefined;
  destinations: DestinationStatus[];
  streams: StreamStatus[];
  rules: RuleStatus[];
  audit: { window: number; scanned: number; complete: boolean };
}

/** `credmesh status`: consumer backlog, stream sizes, last audit record per rule. */
export async function status(ctx: CommandContext, options: { auditWindow: number }): Promise<ExitCode> {
  const report = await collectStatus(ctx, options.auditWindow);
  ctx.io.out(ctx.json ? json(report) : renderStatus(report));
  // A quarantined cell is a state to know about, not a failure of this command.
  return report.streams.some((stream) => stream.missing) ? 1 : 0;
}

async function collectStatus(ctx: CommandContext, auditWindow: number): Promise<StatusReport> {
  const jsm = await jetstreamManager(ctx.nc, { timeout: ctx.timeoutMs });
  const infos = new Map<string, StreamInfo | undefined>();
  for (const stream of Object.values(STREAMS)) {
    // Subject counts let us split mutations, dead letters and audit records per destination.
    infos.set(stream.name, await streamInfo(jsm, stream.name, stream.name === STREAMS.lifecycle.name ? undefined : stream.subjects[0]));
  }
  const consumers = await listConsumers(jsm, STREAMS.mutations.name);

  const destinations = CLOUDS.map((destination): DestinationStatus => ({
    destination,
    consumers: consumers.filter((info) => info.name.startsWith(replicatorDurable(destination))).map(consumerStatus),
    mutations: countFor(infos.get(STREAMS.mutations.name), destination),
    deadLetters: countFor(infos.get(STREAMS.deadLetters.name), destination),
  }));

  const streams = Object.values(STREAMS).map(({ name }): StreamStatus => {
    const info = infos.get(name);
    return {
      name,
      missing: info === undefined,
      messages: info?.state.messages ?? 0,
      bytes: info?.state.bytes ?? 0,
      firstSeq: info?.state.first_seq ?? 0,
      lastSeq: info?.state.last_seq ?? 0,
      consumers: info?.state.consumer_count ?? 0,
    };
  });

  const audit = infos.get(STREAMS.audit.name);
  let records: StoredRecord[] = [];
  let complete = true;
  if (audit && audit.state.messages > 0) {
    const startSeq = Math.max(audit.state.first_seq, audit.state.last_seq - auditWindow + 1);
    const scan = await scanStream(ctx.nc, STREAMS.audit.name, {
      filter: STREAMS.audit.subjects[0] ?? "",
      startSeq,
      max: auditWindow,
      timeoutMs: ctx.timeoutMs,
    });
    records = scan.records;
    complete = scan.complete;
  }
  return { cells: await quarantineStates(ctx), destinations, streams, rules: lastAuditPerRule(records), audit: { window: auditWindow, scanned: records.length, complete } };
}

/** Every cell with a quarantine record; undefined when the bucket does not exist. Read only. */
async function quarantineStates(ctx: CommandContext): Promise<CellStatus[] | undefined> {
  const jsm = await jetstreamManager(ctx.nc, { timeout: ctx.timeoutMs });
  try {
    await jsm.streams.info(`KV_${KV_BUCKETS.quarantine}`);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw error;
  }
  // Direct gets, as the services read the bucket: the subject names the key, which the operator's identity may read.
  const kv = await new Kvm(ctx.nc).open(KV_BUCKETS.quarantine, { allow_direct: true });
  const cells: CellStatus[] = [];
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== "PUT") continue;
    try {
      const record = decodeQuarantineRecord(entry.value);
      cells.push({
        cell: record.cell,
        state: record.state,
        since: record.at,
        by: record.by,
        reason: record.reason,
        trigger: record.trigger.type === "policy" ? `policy ${record.trigger.policy}` : "operator",
      });
    } catch {
      cells.push({ cell: key, state: "invalid", since: undefined, by: undefined, reason: undefined, trigger: undefined });
    }
  }
  return cells.sort((a, b) => a.cell.localeCompare(b.cell));
}

async function streamInfo(jsm: JetStreamManager, name: string, subjectsFilter: string | undefined): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name, subjectsFilter ? { subjects_filter: subjectsFilter } : undefined);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw error;
  }
}

async function listConsumers(jsm: JetStreamManager, stream: string): Promise<ConsumerInfo[]> {
  const consumers: ConsumerInfo[] = [];
  try {
    for await (const info of jsm.consumers.list(stream)) consumers.push(info);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return [];
    throw error;
  }
  return consumers.sort((a, b) => a.name.localeCompare(b.name));
}

function consumerStatus(info: ConsumerInfo): ConsumerStatus {
  // The server reports pins in the consumer info (2.11+); the client's types do not know them yet.
  const groups = (info as { priority_groups?: Array<{ pinned_client_id?: string }> }).priority_groups;
  const pinnedPolicy = info.config.priority_policy === "pinned_client";
  return {
    name: info.name,
    pending: info.num_pending,
    ackPending: info.num_ack_pending,
    redelivered: info.num_redelivered,
    waiting: info.num_waiting,
    // Typed as nanoseconds by the client, sent by the server as an RFC 3339 time.
    lastActive: typeof (info.delivered.last_active as unknown) === "string" ? formatTime(info.delivered.last_active as unknown as string) : undefined,
    pinned: pinnedPolicy ? (groups ?? []).some((group) => Boolean(group.pinned_client_id)) : undefined,
  };
}

/** Messages of one destination in a stream whose subjects are `credmesh.<kind>.<destination>...`. */
function countFor(info: StreamInfo | undefined, destination: Cloud): number {
  let count = 0;
  for (const [subject, messages] of Object.entries(info?.state.subjects ?? {})) {
    if (subject.split(".")[2] === destination) count += messages;
  }
  return count;
}

const WRITES: ReadonlySet<string> = new Set([DECISION.applied, DECISION.overwroteDrift, DECISION.deleted, DECISION.restored, DECISION.recovered]);

/**
 * The last audit record of each rule, from records in stream order, read with the audit record's
 * schema (@credmesh/events); a record that does not decode is skipped.
 */
export function lastAuditPerRule(records: readonly StoredRecord[]): RuleStatus[] {
  const byRule = new Map<string, RuleStatus>();
  for (const stored of records) {
    let record: AuditRecord;
    try {
      record = decodeAuditRecord(stored.data);
    } catch {
      continue;
    }
    const previous = byRule.get(record.rule);
    byRule.set(record.rule, {
      rule: record.rule,
      destination: record.destination.cloud,
      decision: record.decision,
      at: record.at,
      secret: secretKeyOf(record.origin),
      correlationId: record.correlationId,
      lastWriteAt: WRITES.has(record.decision) ? record.at : previous?.lastWriteAt,
    });
  }
  return [...byRule.values()].sort((a, b) => a.rule.localeCompare(b.rule));
}

export function renderStatus(report: StatusReport): string {
  const sections: string[] = [];
  for (const destination of report.destinations) {
    const lines = [`Destination ${destination.destination}`];
    if (destination.consumers.length === 0) {
      lines.push(`no replicator consumer (${replicatorDurable(destination.destination)}*) on ${STREAMS.mutations.name}`);
    } else {
      const sum = (pick: (c: ConsumerStatus) => number): number => destination.consumers.reduce((total, c) => total + pick(c), 0);
      lines.push(
        table(
          ["CONSUMER", "PENDING", "ACK PENDING", "REDELIVERED", "WAITING", "PINNED", "LAST ACTIVE"],
          destination.consumers.map((c) => [c.name, c.pending, c.ackPending, c.redelivered, c.waiting, c.pinned === undefined ? undefined : c.pinned ? "yes" : "no", c.lastActive]),
        ),
      );
      lines.push(`total pending: ${sum((c) => c.pending)}   ack pending: ${sum((c) => c.ackPending)}`);
    }
    const dlqHint = destination.deadLetters > 0 ? ` (credmesh dlq list --destination ${destination.destination})` : "";
    lines.push(`mutations stored: ${destination.mutations}   dead letters: ${destination.deadLetters}${dlqHint}`);
    sections.push(lines.join("\n"));
  }
  sections.push(
    [
      "Streams",
      table(
        ["STREAM", "MESSAGES", "BYTES", "FIRST SEQ", "LAST SEQ", "CONSUMERS"],
        report.streams.map((s) => (s.missing ? [s.name, "MISSING"] : [s.name, s.messages, formatBytes(s.bytes), s.firstSeq, s.lastSeq, s.consumers])),
      ),
    ].join("\n"),
  );
  const title = `Last audit record per rule (from the last ${report.audit.scanned} audit records${report.audit.complete ? "" : ", incomplete: the bus stopped answering"})`;
  sections.push(
    report.rules.length === 0
      ? `${title}\nno audit records`
      : [
          title,
          table(
            ["RULE", "DEST", "DECISION", "AT", "SECRET", "CORRELATION ID", "LAST WRITE"],
            report.rules.map((r) => [r.rule, r.destination, r.decision, formatTime(r.at), r.secret, r.correlationId, formatTime(r.lastWriteAt)]),
          ),
        ].join("\n"),
  );
  // Last, so that scripts reading the sections above keep their positions.
  if (report.cells === undefined) {
    sections.push("Cells\nno quarantine state yet (no identity-watcher or replicator has started)");
  } else {
    const quarantined = report.cells.filter((cell) => cell.state !== "active").length;
    sections.push(
      [
        `Cells (${quarantined === 0 ? "none quarantined" : `${quarantined} QUARANTINED`})`,
        report.cells.length === 0
          ? "no cell was ever quarantined"
          : table(
              ["CELL", "STATE", "SINCE", "BY", "TRIGGER", "REASON"],
              report.cells.map((c) => [c.cell, c.state === "active" ? "active" : c.state.toUpperCase(), formatTime(c.since), c.by, c.trigger, c.reason]),
            ),
      ].join("\n"),
    );
  }
  return sections.join("\n\n");
}
