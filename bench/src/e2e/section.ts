import { setTimeout as sleep } from "node:timers/promises";
import { startBenchMesh, forgetOutput, type BenchMesh } from "../mesh/mesh.ts";
import { AuditWatch, DIRECTIONS, converged, poolNames, seedReplicated, type Direction, type SourceSecret } from "../mesh/mutations.ts";
import { watchProcesses, type ProcessUsage } from "../processes.ts";
import { round, type RunContext, type Section } from "../section.ts";
import type { SettingsOf } from "../settings.ts";
import { openLoop, type OpenLoopResult } from "./open-loop.ts";
import { credmeshTask, floorTargets, floorTask } from "./tasks.ts";

const settings = {
  rates: { kind: "ints", default: [5, 20, 50, 100], quick: [5, 20], min: 1, max: 1_000, env: "BENCH_E2E_RATES", help: "mutations per second offered, one level per value" },
  duration: { kind: "int", default: 20, quick: 5, min: 1, max: 600, env: "BENCH_E2E_DURATION", help: "seconds of arrivals per level (floor and credmesh each)" },
  pool: { kind: "int", default: 100, quick: 20, min: 1, max: 5_000, env: "BENCH_E2E_POOL", help: "secrets per direction the mutations go round (each replicated once before measuring)" },
  drain: { kind: "int", default: 120, quick: 60, min: 10, max: 1_800, env: "BENCH_E2E_DRAIN", help: "seconds after the last arrival a mutation may still complete; then every replica must hold its source's latest version" },
} as const;

type EndToEndSettings = SettingsOf<typeof settings>;

/** One offered rate in one direction: the floor and credmesh, back to back. */
export interface EndToEndLevel {
  ratePerSecond: number;
  floor: OpenLoopResult;
  credmesh: OpenLoopResult;
  /** credmesh ÷ floor at the median and the 99th percentile. */
  ratio: { p50: number; p99: number };
  /** Per process during the credmesh run: % of one core, and RSS. */
  usage: ProcessUsage;
  /** The process that used the most CPU (% of one core) during the credmesh run: the first to saturate. */
  busiest: { process: string; percentOfCore: number };
  /** CPU ms per completed mutation of ingest and the direction's replicator. */
  cpuMsPerMutation: { ingest: number | null; replicator: number | null };
  /** Replicas checked against their source's latest version after the run, and how many were behind. */
  convergence: { checked: number; behind: number };
}

export interface EndToEndResult {
  directions: Array<{ direction: Direction; levels: EndToEndLevel[] }>;
  settings: { rateLimit: "off" };
}

/**
 * End to end, open loop (issue 13 item 2): origin change → destination write at fixed offered
 * rates, both directions, with the floor measured in the same run at the same rate — one direct SDK
 * read at the source plus one direct SDK write at the destination after the same origin change. CPU
 * per process during each credmesh run names the component that saturates first. The replicators'
 * rate limiters are off here (the quota section measures them): at 50 and 100/s one Key Vault's
 * real create quota (300 per 10 s) would be the ceiling, not credmesh.
 */
export const endToEndSection: Section<typeof settings, EndToEndResult> = {
  name: "e2e",
  title: "End to end, open loop, against the emulators' own service time",
  settings,
  budgetSeconds: (values) => 600 + values.pool * 2 + 2 * values.rates.length * (2 * values.duration + values.drain + 60),
  run: runEndToEnd,
  ok: (result) => result.directions.every((direction) => direction.levels.every((level) => level.convergence.behind === 0)),
  report: reportEndToEnd,
};

/** Starts the mesh for a measurement of replication at rates (limiters off, both replicators). */
export async function meshForRates(context: RunContext, replicatorEnv: Record<string, string> = {}): Promise<BenchMesh> {
  context.progress("starting nats-server, moto, the Key Vault emulator, ingest and both replicators (each its own process)");
  const mesh = await startBenchMesh({ replicatorEnv: { CREDMESH_RATE_LIMIT: "false", ...replicatorEnv } });
  context.defer(() => mesh.stop());
  return mesh;
}

async function runEndToEnd(values: EndToEndSettings, context: RunContext): Promise<EndToEndResult> {
  const mesh = await meshForRates(context);
  const watch = new AuditWatch(mesh);
  context.defer(async () => watch.stop());
  const directions: EndToEndResult["directions"] = [];
  for (const direction of DIRECTIONS) {
    context.progress(`e2e ${direction}: seeding ${values.pool} secrets, each replicated once`);
    const pool = await seedReplicated(mesh, watch, direction, poolNames(direction, "e2e", values.pool), context.signal);
    const targets = await floorTargets(mesh, direction, "e2e", values.pool);
    const levels: EndToEndLevel[] = [];
    for (const rate of values.rates) {
      context.progress(`e2e ${direction}: floor at ${rate}/s for ${values.duration} s`);
      forgetOutput(mesh);
      const floor = await openLoop(rate, values.duration, floorTask(mesh, direction, pool, targets));
      context.progress(`e2e ${direction}: credmesh at ${rate}/s for ${values.duration} s`);
      const drain = AbortSignal.any([context.signal, AbortSignal.timeout((values.duration + values.drain) * 1_000)]);
      const processes = watchProcesses(mesh.pids());
      const credmesh = await openLoop(rate, values.duration, credmeshTask(mesh, watch, direction, pool, drain));
      const usage = processes.stop();
      forgetOutput(mesh);
      const convergence = await settle(mesh, direction, pool, values.drain, context);
      levels.push(level(rate, floor, credmesh, usage, direction, convergence));
    }
    directions.push({ direction, levels });
  }
  return { directions, settings: { rateLimit: "off" } };
}

/** Polls the destination until every replica holds its source's latest version, or the time is up. */
export async function settle(
  mesh: BenchMesh,
  direction: Direction,
  pool: ReadonlyArray<SourceSecret & { replica: string }>,
  seconds: number,
  context: RunContext,
): Promise<{ checked: number; behind: number }> {
  const until = Date.now() + seconds * 1_000;
  for (;;) {
    const state = await converged(mesh, direction, pool);
    if (state.behind === 0 || Date.now() > until || context.signal.aborted) return state;
    await sleep(2_000);
  }
}

function level(rate: number, floor: OpenLoopResult, credmesh: OpenLoopResult, usage: ProcessUsage, direction: Direction, convergence: EndToEndLevel["convergence"]): EndToEndLevel {
  const replicator = direction === "aws-to-azure" ? "replicator-azure" : "replicator-aws";
  const [process, percentOfCore] = Object.entries(usage.cpu.processPercentOfCore)
    .filter(([name]) => name !== "bench")
    .reduce<[string, number]>((top, [name, percent]) => ((percent ?? 0) > top[1] ? [name, percent ?? 0] : top), ["?", -1]);
  const perMutation = (name: string): number | null => {
    const seconds = usage.cpu.processCpuSeconds[name];
    return seconds === null || seconds === undefined || credmesh.completed === 0 ? null : round((seconds * 1_000) / credmesh.completed, 2);
  };
  return {
    ratePerSecond: rate,
    floor,
    credmesh,
    ratio: { p50: round(credmesh.latencyMs.p50 / floor.latencyMs.p50), p99: round(credmesh.latencyMs.p99 / floor.latencyMs.p99) },
    usage,
    busiest: { process, percentOfCore },
    cpuMsPerMutation: { ingest: perMutation("ingest"), replicator: perMutation(replicator) },
    convergence,
  };
}

function reportEndToEnd(result: EndToEndResult): string[] {
  const lines: string[] = [
    "Origin change (the source write's answer) → destination write (the replicator's audit record), open loop; floor: the same origin change, " +
      "then one direct SDK read at the source and one direct SDK write at the destination. Replicator rate limiters off (see the quota section). " +
      "CPU: % of one core during the credmesh run.",
  ];
  for (const { direction, levels } of result.directions) {
    lines.push(
      "",
      `**${direction === "aws-to-azure" ? "AWS → Azure" : "Azure → AWS"}**`,
      "",
      "| offered/s | floor p50 ms | floor p99 ms | floor max ms | credmesh p50 ms | p99 ms | max ms | ratio p50 / p99 | completed/s | machine busy | busiest process | CPU ingest / replicator / moto / Key Vault / nats-server | converged |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    );
    for (const level of levels) {
      const cpu = level.usage.cpu.processPercentOfCore;
      const replicator = direction === "aws-to-azure" ? "replicator-azure" : "replicator-aws";
      const incomplete = Object.values(level.credmesh.failures).reduce((sum, count) => sum + count, 0);
      lines.push(
        `| ${level.ratePerSecond} | ${level.floor.latencyMs.p50} | ${level.floor.latencyMs.p99} | ${level.floor.latencyMs.max} | ` +
          `${level.credmesh.latencyMs.p50} | ${level.credmesh.latencyMs.p99} | ${level.credmesh.latencyMs.max} | ${level.ratio.p50} / ${level.ratio.p99} | ` +
          `${level.credmesh.achievedPerSecond}${incomplete > 0 ? ` (${incomplete} late)` : ""} | ${level.usage.cpu.machineBusyPercent ?? "?"}% | ${level.busiest.process} ${level.busiest.percentOfCore}% | ` +
          `${cpu.ingest ?? "?"} / ${cpu[replicator] ?? "?"} / ${cpu.moto ?? "?"} / ${cpu["keyvault-emulator"] ?? "?"} / ${cpu["nats-server"] ?? "?"} | ` +
          `${level.convergence.behind === 0 ? "ok" : `FAILED (${level.convergence.behind} of ${level.convergence.checked} behind)`} |`,
      );
    }
  }
  return lines;
}
