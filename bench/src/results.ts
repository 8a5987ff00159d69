import type { DuplicatesCheck } from "./duplicates.ts";
import type { MachineInfo } from "./machine.ts";
import type { TargetResult } from "./measure.ts";
import type { BenchOptions } from "./options.ts";

/**
 * One bench run, as written to bench/results/<timestamp>.json and bench/results/latest.json.
 * @see ../../../shared/SPEC.md section 8 (ingest beside the machine's floor; duplicates)
 */
export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  /** Wall time of the whole run, start-up and shutdown of every process included. */
  totalSeconds: number;
  options: BenchOptions;
  machine: MachineInfo;
  floor: TargetResult;
  ingest: TargetResult;
  /** Ingest's durable events/s as a percentage of the floor's, measured in the same run. */
  ingestPercentOfFloor: number;
  duplicates: DuplicatesCheck;
  /** What makes these numbers less than they seem; printed under the table. */
  caveats: string[];
  /** Durability of both targets and the duplicates check all held. */
  ok: boolean;
}

/** Above this share of all cores busy, the run measured the machine, not the service. */
const SATURATED_PERCENT = 90;
/** Outside load worth mentioning, in percent of one core. */
const OUTSIDE_LOAD_PERCENT = 10;

/** Explains, from the measurements themselves, where the numbers need care. */
export function caveatsFor(machine: MachineInfo, runs: readonly TargetResult[]): string[] {
  const caveats: string[] = [];
  for (const run of runs) {
    const { machineBusyPercent, processPercentOfCore } = run.cpu;
    const own = Object.values(processPercentOfCore).reduce<number>((sum, value) => sum + (value ?? 0), 0);
    const shares = Object.entries(processPercentOfCore)
      .map(([name, value]) => `${name === "bench" ? "autocannon (bench process)" : name} ${value ?? "?"}%`)
      .join(", ");
    if (machineBusyPercent !== null && machineBusyPercent >= SATURATED_PERCENT) {
      caveats.push(
        `${run.target}: CPU-saturated — all ${machine.cores} cores ${machineBusyPercent}% busy (per process, % of one core: ${shares}). ` +
          "The load generator shares the cores with the server and nats-server, so events/s is this machine's ceiling with autocannon on it, " +
          "not the service's; compare the ratio to the floor rather than absolute numbers.",
      );
    }
    if (machineBusyPercent !== null) {
      const outside = Math.round(machineBusyPercent * machine.cores - own);
      if (outside >= OUTSIDE_LOAD_PERCENT) {
        caveats.push(
          `${run.target}: about ${outside}% of one core went to work outside the bench's processes: other work on this machine, ` +
            "and kernel time not charged to any process (loopback networking in softirq).",
        );
      }
    }
    if (run.durability.storedUnacknowledged > 0) {
      caveats.push(
        `${run.target}: the stream grew by ${run.durability.storedDelta}, ${run.durability.storedUnacknowledged} more than the 2xx count: ` +
          "requests in flight when autocannon closed its connections at the end of the run were stored, their answers never read.",
      );
    }
  }
  caveats.push(
    "Closed-loop load (a fixed number of connections, one request in flight on each): latency includes queueing, " +
      "mean ≈ connections ÷ events/s (Little's law); it is not the latency of a lone webhook.",
  );
  return caveats;
}

/** The markdown summary printed at the end of a run. */
export function markdownReport(results: BenchResults): string {
  const row = (run: TargetResult, percent: string): string =>
    `| ${run.target} | ${run.eventsPerSecond} | ${run.latencyMs.p50} | ${run.latencyMs.p99} | ${run.latencyMs.max} | ${run.errors} | ${run.non2xx} | ${percent} |`;
  const durability = (run: TargetResult): string => {
    const d = run.durability;
    return `- ${run.target}: ${d.acknowledged} acknowledged, stream +${d.storedDelta}, acknowledged but missing ${d.acknowledgedMissing} — ${d.ok ? "ok" : "FAILED"}`;
  };
  const cpu = (run: TargetResult): string => {
    const shares = run.cpu.processPercentOfCore;
    return `| ${run.target} | ${run.cpu.machineBusyPercent ?? "?"}% | ${shares["bench"] ?? "?"}% | ${shares[run.target] ?? "?"}% | ${shares["nats-server"] ?? "?"}% |`;
  };
  const dup = results.duplicates;
  const { machine, options } = results;
  return [
    `## credmesh bench — ${results.startedAt}`,
    "",
    `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB; node ${machine.serviceNode}; nats-server ${machine.natsServer}; ` +
      `${options.connections} connections, ${options.warmupSeconds} s warm-up, ${options.durationSeconds} s measured per target`,
    "",
    "| target | events/s | p50 ms | p99 ms | max ms | errors | non-2xx | % of floor |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    row(results.floor, "100"),
    row(results.ingest, String(results.ingestPercentOfFloor)),
    "",
    "Durability (every 2xx event is in the stream, checked by id):",
    durability(results.floor),
    durability(results.ingest),
    "",
    `Duplicates: ${dup.deliveries} concurrent deliveries of one event → stored ${dup.stored}, accepted ${dup.accepted}, ` +
      `answered duplicate ${dup.answeredDuplicate}${Object.keys(dup.otherStatuses).length > 0 ? `, other ${JSON.stringify(dup.otherStatuses)}` : ""} — ${dup.ok ? "ok" : "FAILED"}`,
    "",
    "CPU during the measurement (machine: % of all cores; processes: % of one core):",
    "",
    "| target | machine busy | autocannon (bench) | server | nats-server |",
    "|---|---:|---:|---:|---:|",
    cpu(results.floor),
    cpu(results.ingest),
    "",
    "Caveats:",
    ...results.caveats.map((caveat) => `- ${caveat}`),
    "",
    `Total run time ${results.totalSeconds} s.`,
  ].join("\n");
}
