import { credmeshTask } from "../e2e/tasks.ts";
import { openLoop, type OpenLoopResult } from "../e2e/open-loop.ts";
import { forgetOutput, startBenchMesh } from "../mesh/mesh.ts";
import { AuditWatch, DIRECTIONS, poolNames, seedReplicated, type Direction } from "../mesh/mutations.ts";
import { rssKiB, watchProcesses, type RssSummary } from "../processes.ts";
import { round, type RunContext, type Section } from "../section.ts";
import type { SettingsOf } from "../settings.ts";

const settings = {
  rate: { kind: "int", default: 10, min: 1, max: 200, env: "BENCH_FOOTPRINT_RATE", help: "mutations per second per direction (both at once), below every default limit" },
  duration: { kind: "int", default: 60, quick: 20, min: 10, max: 3_600, env: "BENCH_FOOTPRINT_DURATION", help: "seconds of steady load" },
  pool: { kind: "int", default: 50, quick: 20, min: 1, max: 5_000, env: "BENCH_FOOTPRINT_POOL", help: "secrets per direction the mutations go round" },
} as const;

type FootprintSettings = SettingsOf<typeof settings>;

/** One service process at steady load. */
export interface ProcessFootprint {
  process: "ingest" | "replicator-azure" | "replicator-aws";
  /** RSS once booted and warm, before the load. */
  idleRssMiB: number | null;
  rssMiB: RssSummary | null;
  /** % of one core during the load. */
  cpuPercentOfCore: number | null;
  /** CPU time per mutation it handled (ingest: both directions' events; a replicator: its direction's). */
  cpuMsPerMutation: number | null;
}

export interface FootprintResult {
  ratePerSecondPerDirection: number;
  seconds: number;
  processes: ProcessFootprint[];
  loads: Array<{ direction: Direction; load: OpenLoopResult }>;
}

/**
 * Footprint (issue 13 item 7): RSS and CPU per mutation of ingest and each replicator at a steady
 * load in both directions at once, with the default configuration (rate limiters on, log level info).
 */
export const footprintSection: Section<typeof settings, FootprintResult> = {
  name: "footprint",
  title: "Footprint at steady load",
  settings,
  budgetSeconds: (values) => 400 + values.duration * 2 + values.pool * 2,
  run: runFootprint,
  // Every mutation must have been handled: at a rate below the limits, nothing may be late.
  ok: (result) => result.loads.every(({ load }) => load.completed === load.started),
  report: (result) => [
    `${result.ratePerSecondPerDirection} mutations/s in each direction at once for ${result.seconds} s (ingest takes both), default settings.`,
    "",
    "| process | RSS idle MiB | RSS mean MiB | RSS peak MiB | CPU % of a core | CPU ms per mutation |",
    "|---|---:|---:|---:|---:|---:|",
    ...result.processes.map(
      (p) => `| ${p.process} | ${p.idleRssMiB ?? "?"} | ${p.rssMiB?.mean ?? "?"} | ${p.rssMiB?.peak ?? "?"} | ${p.cpuPercentOfCore ?? "?"} | ${p.cpuMsPerMutation ?? "?"} |`,
    ),
    "",
    `Latency at this load: ${result.loads.map(({ direction, load }) => `${direction} p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms`).join("; ")}.`,
  ],
};

async function runFootprint(values: FootprintSettings, context: RunContext): Promise<FootprintResult> {
  context.progress("footprint: starting the mesh with default settings");
  const mesh = await startBenchMesh();
  context.defer(() => mesh.stop());
  const watch = new AuditWatch(mesh);
  context.defer(async () => watch.stop());
  const pools = await Promise.all(
    DIRECTIONS.map(async (direction) => ({ direction, pool: await seedReplicated(mesh, watch, direction, poolNames(direction, "fp", values.pool), context.signal) })),
  );
  const names = { ingest: mesh.ingest.pid, "replicator-azure": mesh.replicators.azure?.pid, "replicator-aws": mesh.replicators.aws?.pid } as const;
  const idle = Object.fromEntries(Object.entries(names).map(([name, pid]) => [name, pid === undefined ? null : rssKiB(pid)]));
  forgetOutput(mesh);
  context.progress(`footprint: ${values.rate}/s per direction for ${values.duration} s`);
  const processes = watchProcesses(names);
  const drain = AbortSignal.any([context.signal, AbortSignal.timeout((values.duration + 60) * 1_000)]);
  const loads = await Promise.all(
    pools.map(async ({ direction, pool }) => ({ direction, load: await openLoop(values.rate, values.duration, credmeshTask(mesh, watch, direction, pool, drain)) })),
  );
  const usage = processes.stop();
  const handled = (name: keyof typeof names): number =>
    name === "ingest"
      ? loads.reduce((sum, { load }) => sum + load.started, 0)
      : (loads.find(({ direction }) => (direction === "aws-to-azure") === (name === "replicator-azure"))?.load.completed ?? 0);
  return {
    ratePerSecondPerDirection: values.rate,
    seconds: values.duration,
    processes: (Object.keys(names) as Array<keyof typeof names>).map((name) => {
      const cpuSeconds = usage.cpu.processCpuSeconds[name];
      const idleKiB = idle[name];
      return {
        process: name,
        idleRssMiB: idleKiB === null || idleKiB === undefined ? null : round(idleKiB / 1_024),
        rssMiB: usage.rssMiB[name] ?? null,
        cpuPercentOfCore: usage.cpu.processPercentOfCore[name] ?? null,
        cpuMsPerMutation: cpuSeconds === null || cpuSeconds === undefined || handled(name) === 0 ? null : round((cpuSeconds * 1_000) / handled(name), 2),
      };
    }),
    loads,
  };
}

