import { readFileSync } from "node:fs";
import { cpuSnapshot, cpuUsage, type CpuUsage } from "./cpu.ts";
import { round } from "./section.ts";

/** Resident memory of one process over a watch, in MiB. */
export interface RssSummary {
  mean: number;
  peak: number;
  end: number;
}

/** What the processes of a run used while it was watched. */
export interface ProcessUsage {
  cpu: CpuUsage;
  /** RSS sampled every few hundred ms, per process (null: no /proc). */
  rssMiB: Record<string, RssSummary | null>;
}

export interface ProcessWatch {
  stop(): ProcessUsage;
}

/**
 * Watches named processes: CPU counters at start and stop (cpu.ts), RSS sampled every
 * `intervalMs` from /proc/<pid>/status. The bench process itself is included as `bench`.
 */
export function watchProcesses(pids: Record<string, number | undefined>, intervalMs = 250): ProcessWatch {
  const start = cpuSnapshot(pids);
  const samples = new Map<string, number[]>(Object.keys(pids).map((name) => [name, []]));
  samples.set("bench", []);
  const sample = (): void => {
    for (const [name, pid] of Object.entries({ ...pids, bench: process.pid })) {
      const rss = pid === undefined ? null : rssKiB(pid);
      if (rss !== null) samples.get(name)?.push(rss);
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const cpu = cpuUsage(start, cpuSnapshot(pids));
      const rssMiB: Record<string, RssSummary | null> = {};
      for (const [name, values] of samples) {
        rssMiB[name] =
          values.length === 0
            ? null
            : {
                mean: round(values.reduce((sum, value) => sum + value, 0) / values.length / 1_024),
                peak: round(Math.max(...values) / 1_024),
                end: round((values.at(-1) ?? 0) / 1_024),
              };
      }
      return { cpu, rssMiB };
    },
  };
}

/** VmRSS of a process in KiB, or null when it cannot be read. */
export function rssKiB(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match?.[1] === undefined ? null : Number(match[1]);
  } catch {
    return null;
  }
}
