import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { AutocannonStats } from "autocannon";
import { cpuSnapshot, cpuUsage, type CpuUsage } from "../cpu.ts";
import { checkDurability, type Durability } from "./durability.ts";
import type { EventBodies } from "./events.ts";
import { runLoad, type LatencySummary } from "./load.ts";
import { settledPosition, storedMessageIds } from "./stream.ts";
import type { Target } from "./target.ts";

/** The measurement of one target: throughput of durable events, latency, errors, proof of storage. */
export interface TargetResult {
  target: Target["name"];
  url: string;
  connections: number;
  /** Seconds autocannon measured (the requested duration, give or take one sample interval). */
  measuredSeconds: number;
  /** 2xx responses per second: events the target has durably stored. */
  eventsPerSecond: number;
  count2xx: number;
  non2xx: number;
  /** Socket errors and timeouts (autocannon counts a timeout as an error too). */
  errors: number;
  /** Requests without an answer within 10 s. */
  timeouts: number;
  statusCodes: Record<string, number>;
  /** 2xx answers flagged as duplicates (every id was new, so this should be 0). */
  answeredDuplicate: number;
  latencyMs: Omit<LatencySummary, "histogramUs">;
  /** Microsecond histogram of 2xx latencies, hdr compressed base64. */
  latencyHistogramUs: string;
  /** autocannon's own summaries as it reported them (latency in whole ms, requests per second, bytes). */
  autocannon: { latency: AutocannonStats; requests: AutocannonStats; throughput: AutocannonStats };
  durability: Durability;
  cpu: CpuUsage;
}

/** Unmeasured load first: JIT, connection pools, the stream's file. */
export async function warmUp(target: Target, bodies: EventBodies, connections: number, seconds: number): Promise<void> {
  if (seconds > 0) await runLoad(target, bodies, connections, seconds);
  forgetOutput(target);
}

/**
 * Measures a target: autocannon for a fixed duration at a fixed concurrency, CPU counters around
 * it, and afterwards the stream, to check that every acknowledged event was stored.
 */
export async function measureTarget(
  target: Target,
  bodies: EventBodies,
  load: { connections: number; durationSeconds: number },
  bus: { jsm: JetStreamManager; js: JetStreamClient; natsPid: number | undefined },
): Promise<TargetResult> {
  const before = await settledPosition(bus.jsm, target.stream);

  const pids = { [target.name]: target.process.pid, "nats-server": bus.natsPid };
  const cpuStart = cpuSnapshot(pids);
  const run = await runLoad(target, bodies, load.connections, load.durationSeconds);
  const cpu = cpuUsage(cpuStart, cpuSnapshot(pids));
  forgetOutput(target);

  const after = await settledPosition(bus.jsm, target.stream);
  const stored = await storedMessageIds(bus.js, target.stream, before.lastSeq + 1, after.lastSeq);
  const result = run.autocannon;
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([status, { count }]) => [status, count]));
  const { histogramUs, ...latencyMs } = run.latency;
  return {
    target: target.name,
    url: target.url,
    connections: load.connections,
    measuredSeconds: result.duration,
    eventsPerSecond: Math.round((result["2xx"] / result.duration) * 10) / 10,
    count2xx: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    answeredDuplicate: run.answeredDuplicate,
    latencyMs,
    latencyHistogramUs: histogramUs,
    autocannon: { latency: result.latency, requests: result.requests, throughput: result.throughput },
    durability: checkDurability(target.stream, before, after, result["2xx"], run.acknowledgedIds, stored),
    cpu,
  };
}

/**
 * The harness keeps every output line of a process (tests scan them for leaked secrets); the bench
 * has no use for them, and they must not grow with the duration of a run.
 */
function forgetOutput(target: Target): void {
  target.process.lines.length = 0;
}
