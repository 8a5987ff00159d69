import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { decodeFromCompressedBase64 } from "hdr-histogram-js";
import { startNats } from "../../../test/support/parts.ts";
import { round, type Section } from "../section.ts";
import type { SettingsOf } from "../settings.ts";
import { checkDuplicates, type DuplicatesCheck } from "./duplicates.ts";
import { EventBodies } from "./events.ts";
import { startFloor } from "./floor.ts";
import { startIngest } from "./ingest-service.ts";
import { measureTarget, warmUp, type TargetResult } from "./measure.ts";
import type { Target } from "./target.ts";

const settings = {
  connections: {
    kind: "ints",
    default: [32, 128],
    quick: [32],
    min: 1,
    max: 1_024,
    env: "BENCH_CONNECTIONS",
    help: "concurrent HTTP connections, one level per value (autocannon keeps one request in flight on each)",
  },
  duration: { kind: "int", default: 5, quick: 3, min: 1, max: 300, env: "BENCH_DURATION", help: "seconds measured per target per round" },
  rounds: {
    kind: "int",
    default: 3,
    quick: 1,
    min: 1,
    max: 20,
    env: "BENCH_ROUNDS",
    help: "floor and ingest alternate this many times per level, so drifting background load hits both alike",
  },
  warmup: { kind: "int", default: 3, quick: 1, min: 0, max: 60, env: "BENCH_WARMUP", help: "seconds of unmeasured load per target and level" },
  duplicates: { kind: "int", default: 100, min: 2, max: 1_000, env: "BENCH_DUPLICATES", help: "concurrent deliveries of one event in the duplicates check" },
  profile: { kind: "path", env: "BENCH_PROFILE", help: "directory for V8 CPU profiles of the floor and ingest (node --cpu-prof; they slow both down)" },
} as const;

type IngestSettings = SettingsOf<typeof settings>;

/** One target at one concurrency, summed over its rounds. */
export interface TargetSummary {
  /** 2xx answers (durably stored events) per measured second, over all rounds. */
  eventsPerSecond: number;
  count2xx: number;
  measuredSeconds: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Latency of 2xx answers over all rounds (from the merged µs histograms). */
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** CPU time per stored event, in µs: the server process, nats-server, and autocannon (the bench process). */
  cpuMicrosPerEvent: { server: number | null; natsServer: number | null; loadGenerator: number | null };
  /** Mean share of all cores busy during its rounds. */
  machineBusyPercent: number | null;
  /** Every acknowledged event found in the stream, in every round. */
  durable: boolean;
  acknowledgedMissing: number;
  rounds: TargetResult[];
}

export interface IngestLevel {
  connections: number;
  /** SPEC §8's floor: a bare handler that only awaits a JetStream publish. */
  floor: TargetSummary;
  /** The floor with ingest's transport tunings (no async stack traces, publishes batched per loop turn). */
  tunedFloor: TargetSummary;
  ingest: TargetSummary;
  /** Ingest's events/s as a percentage of the floor's, over all rounds. */
  ingestPercentOfFloor: number;
  /** The same ratio per round (the targets measured back to back), to show its spread. */
  roundPercents: number[];
  /** Ingest's events/s as a percentage of the tuned floor's: the cost of ingest's own work alone. */
  ingestPercentOfTunedFloor: number;
  roundPercentsOfTunedFloor: number[];
}

export interface IngestResult {
  levels: IngestLevel[];
  duplicates: DuplicatesCheck;
  /** Where the CPU profiles were written, with `--profile`. */
  profileDir?: string;
  caveats: string[];
}

/**
 * Ingest against its floor (SPEC §8): a bare node:http handler that only awaits a JetStream
 * publish, in its own process, on the same nats-server; and against a tuned floor, the same handler
 * with ingest's transport tunings, so that what remains between it and ingest is ingest's own work
 * (authentication, parsing, validation, normalization, metrics). All take the same EventBridge
 * deliveries from autocannon at each concurrency, in alternating rounds. Durability (every 2xx's id
 * in the stream) and deduplication (N concurrent deliveries of one event store it once) are checked.
 */
export const ingestSection: Section<typeof settings, IngestResult> = {
  name: "ingest",
  title: "Ingest against its floor",
  settings,
  budgetSeconds: (values) =>
    values.connections.length * 3 * (values.warmup + values.rounds * (values.duration + 15)) * 2 + 120,
  run: runIngest,
  ok: (result) => result.duplicates.ok && result.levels.every((level) => level.floor.durable && level.tunedFloor.durable && level.ingest.durable),
  report: reportIngest,
};

async function runIngest(values: IngestSettings, context: Parameters<typeof ingestSection.run>[1]): Promise<IngestResult> {
  context.progress("ingest: starting nats-server, the floor and ingest");
  // CPU is accounted per process, so nats-server must be a local process, never a container.
  process.env.CREDMESH_TEST_RUNTIME = "processes";
  // Plaintext, without identities: the floor and ingest publish over the same kind of connection.
  const nats = await startNats({ plaintext: true });
  context.defer(() => nats.stop());
  const nc = await connect({ servers: nats.url, name: "credmesh-bench" });
  context.defer(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const bus = { jsm, js: jetstream(nc), natsPid: nats.process?.pid };
  const profiling = (name: string): Record<string, string> =>
    values.profile === undefined ? {} : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${join(values.profile, name)}` };
  const floor = await startFloor("floor", nats.url, jsm, profiling("floor"));
  context.defer(() => floor.stop());
  const tunedFloor = await startFloor("tuned floor", nats.url, jsm, profiling("tuned-floor"));
  context.defer(() => tunedFloor.stop());
  const ingest = await startIngest(nats.url, profiling("ingest"));
  context.defer(() => ingest.stop());
  const bodies = new EventBodies();

  const levels: IngestLevel[] = [];
  for (const connections of values.connections) {
    const runs: Record<Target["name"], TargetResult[]> = { floor: [], "tuned floor": [], ingest: [] };
    const targets = [floor, tunedFloor, ingest];
    for (const target of targets) {
      context.progress(`ingest: ${target.name} warm-up, ${values.warmup} s at ${connections} connections`);
      await warmUp(target, bodies, connections, values.warmup);
    }
    for (let round = 1; round <= values.rounds; round++) {
      for (const target of targets) {
        context.progress(`ingest: ${target.name}, round ${round}/${values.rounds}, ${values.duration} s at ${connections} connections`);
        runs[target.name].push(await measureTarget(target, bodies, { connections, durationSeconds: values.duration }, bus));
      }
    }
    const summaries = { floor: summarize(runs.floor), tunedFloor: summarize(runs["tuned floor"]), ingest: summarize(runs.ingest) };
    const percents = (of: TargetResult[]): number[] =>
      runs.ingest.map((run, index) => round((run.eventsPerSecond / (of[index]?.eventsPerSecond ?? Number.NaN)) * 100));
    levels.push({
      connections,
      ...summaries,
      ingestPercentOfFloor: round((summaries.ingest.eventsPerSecond / summaries.floor.eventsPerSecond) * 100),
      roundPercents: percents(runs.floor),
      ingestPercentOfTunedFloor: round((summaries.ingest.eventsPerSecond / summaries.tunedFloor.eventsPerSecond) * 100),
      roundPercentsOfTunedFloor: percents(runs["tuned floor"]),
    });
  }
  context.progress(`ingest: duplicates, ${values.duplicates} concurrent deliveries of one event`);
  const duplicates = await checkDuplicates(ingest, bodies, values.duplicates, bus.jsm, bus.js);
  return { levels, duplicates, ...(values.profile === undefined ? {} : { profileDir: values.profile }), caveats: caveatsFor(levels) };
}

function summarize(runs: readonly TargetResult[]): TargetSummary {
  const sum = (pick: (run: TargetResult) => number): number => runs.reduce((total, run) => total + pick(run), 0);
  const count2xx = sum((run) => run.count2xx);
  const measuredSeconds = sum((run) => run.measuredSeconds);
  const merged = decodeFromCompressedBase64(runs[0]?.latencyHistogramUs ?? "");
  for (const run of runs.slice(1)) {
    const next = decodeFromCompressedBase64(run.latencyHistogramUs);
    merged.add(next);
    next.destroy();
  }
  const ms = (us: number): number => Math.round(us) / 1_000;
  const latencyMs = {
    p50: ms(merged.getValueAtPercentile(50)),
    p90: ms(merged.getValueAtPercentile(90)),
    p99: ms(merged.getValueAtPercentile(99)),
    max: ms(merged.maxValue),
    mean: ms(merged.mean),
  };
  merged.destroy();
  const perEvent = (name: string): number | null => {
    const seconds = runs.map((run) => run.cpu.processCpuSeconds[name]);
    if (seconds.some((value) => value === null || value === undefined) || count2xx === 0) return null;
    return round((sum((run) => run.cpu.processCpuSeconds[name] ?? 0) * 1e6) / count2xx);
  };
  const busy = runs.map((run) => run.cpu.machineBusyPercent);
  return {
    eventsPerSecond: round(count2xx / measuredSeconds),
    count2xx,
    measuredSeconds,
    non2xx: sum((run) => run.non2xx),
    errors: sum((run) => run.errors),
    timeouts: sum((run) => run.timeouts),
    latencyMs,
    cpuMicrosPerEvent: { server: perEvent(runs[0]?.target ?? ""), natsServer: perEvent("nats-server"), loadGenerator: perEvent("bench") },
    machineBusyPercent: busy.some((value) => value === null) ? null : round(sum((run) => run.cpu.machineBusyPercent ?? 0) / runs.length),
    durable: runs.every((run) => run.durability.ok),
    acknowledgedMissing: sum((run) => run.durability.acknowledgedMissing),
    rounds: [...runs],
  };
}

/** Above this share of all cores busy, the run measured the machine, not the service. */
const SATURATED_PERCENT = 90;

function caveatsFor(levels: readonly IngestLevel[]): string[] {
  const caveats: string[] = [];
  const saturated = levels.flatMap((level) =>
    [level.floor, level.tunedFloor, level.ingest].filter((target) => (target.machineBusyPercent ?? 0) >= SATURATED_PERCENT).map(() => level.connections),
  );
  if (saturated.length > 0) {
    caveats.push(
      "The machine's cores were saturated during the measurement: autocannon, the server, nats-server (and anything else running) share them, " +
        "so events/s is this machine's ceiling with the load generator on it, not the service's. Compare the ratio to the floor and the CPU µs per event.",
    );
  }
  const spread = levels.filter((level) => Math.max(...level.roundPercents) - Math.min(...level.roundPercents) > 15);
  for (const level of spread) {
    caveats.push(
      `At ${level.connections} connections the per-round ratio ranged ${Math.min(...level.roundPercents)}–${Math.max(...level.roundPercents)} %: ` +
        "background load on the machine changed between rounds; the ratio over all rounds is reported.",
    );
  }
  caveats.push(
    "Closed-loop load (a fixed number of connections, one request in flight on each): latency includes queueing, " +
      "mean ≈ connections ÷ events/s (Little's law); it is not the latency of a lone webhook.",
    "The stream holds up to one message per connection more than the 2xx count per round: requests in flight when autocannon closed its " +
      "connections were stored, their answers never read (counted, not an error).",
  );
  return caveats;
}

function reportIngest(result: IngestResult): string[] {
  const row = (connections: number, name: string, target: TargetSummary, percent: string, percentTuned: string): string => {
    const cpu = target.cpuMicrosPerEvent;
    return (
      `| ${connections} | ${name} | ${target.eventsPerSecond} | ${percent} | ${percentTuned} | ${target.latencyMs.p50} | ${target.latencyMs.p99} | ${target.latencyMs.max} | ` +
      `${cpu.server ?? "?"} | ${cpu.natsServer ?? "?"} | ${target.errors + target.non2xx} | ${target.durable ? "ok" : `FAILED (${target.acknowledgedMissing} missing)`} |`
    );
  };
  const dup = result.duplicates;
  return [
    "The floor is SPEC §8's bare handler; the tuned floor is that handler with ingest's transport tunings (a NATS connection without " +
      "async stack traces, publishes batched per event-loop turn), so ingest's distance to it is the cost of ingest's own work.",
    "",
    "| connections | target | events/s | % of floor | % of tuned floor | p50 ms | p99 ms | max ms | server CPU µs/event | nats-server CPU µs/event | errors + non-2xx | durable |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ...result.levels.flatMap((level) => [
      row(level.connections, "floor (SPEC §8)", level.floor, "100", ""),
      row(level.connections, "tuned floor", level.tunedFloor, "", "100"),
      row(
        level.connections,
        "ingest",
        level.ingest,
        `**${level.ingestPercentOfFloor}** (rounds: ${level.roundPercents.join(", ")})`,
        `${level.ingestPercentOfTunedFloor} (rounds: ${level.roundPercentsOfTunedFloor.join(", ")})`,
      ),
    ]),
    "",
    `Duplicates: ${dup.deliveries} concurrent deliveries of one event → stored ${dup.stored}, accepted ${dup.accepted}, ` +
      `answered duplicate ${dup.answeredDuplicate}${Object.keys(dup.otherStatuses).length > 0 ? `, other ${JSON.stringify(dup.otherStatuses)}` : ""} — ${dup.ok ? "ok" : "FAILED"}`,
    ...(result.profileDir === undefined ? [] : ["", `CPU profiles: ${result.profileDir}/{floor,ingest}/*.cpuprofile`]),
    "",
    ...result.caveats.map((caveat) => `- ${caveat}`),
  ];
}

