import { readFileSync } from "node:fs";

/** Linux counts process CPU time in USER_HZ ticks, 100 per second on every mainstream build. */
const TICKS_PER_SECOND = 100;

/** CPU time counters at one instant: the whole machine, this process, and named child processes. */
export interface CpuSnapshot {
  atMs: number;
  machine: { busyTicks: number; totalTicks: number } | null;
  selfUs: number;
  processes: Record<string, number | null>;
}

/**
 * Share of CPU used between two snapshots, in percent of ONE core (so 200 = both cores of a
 * 2-core machine), and the machine's busy share in percent of all cores. The gap between the
 * machine and the processes named here is load from outside the bench.
 */
export interface CpuUsage {
  seconds: number;
  machineBusyPercent: number | null;
  /** `bench` is this process: the load generator (autocannon) and the reading of child output. */
  processPercentOfCore: Record<string, number | null>;
  /** CPU seconds (user + system) each process used between the snapshots. */
  processCpuSeconds: Record<string, number | null>;
}

/** Reads the counters; on a system without /proc the machine and children read as null. */
export function cpuSnapshot(pids: Record<string, number | undefined>): CpuSnapshot {
  const processes: Record<string, number | null> = {};
  for (const [name, pid] of Object.entries(pids)) processes[name] = pid === undefined ? null : processTicks(pid);
  const usage = process.cpuUsage();
  return { atMs: performance.now(), machine: machineTicks(), selfUs: usage.user + usage.system, processes };
}

export function cpuUsage(start: CpuSnapshot, end: CpuSnapshot): CpuUsage {
  const seconds = (end.atMs - start.atMs) / 1_000;
  const percent = (cpuSeconds: number): number => Math.round((cpuSeconds / seconds) * 1_000) / 10;
  const processCpuSeconds: Record<string, number | null> = { bench: (end.selfUs - start.selfUs) / 1e6 };
  for (const [name, ticks] of Object.entries(start.processes)) {
    const after = end.processes[name];
    processCpuSeconds[name] = ticks === null || after === null || after === undefined ? null : (after - ticks) / TICKS_PER_SECOND;
  }
  const processPercentOfCore = Object.fromEntries(
    Object.entries(processCpuSeconds).map(([name, cpuSeconds]) => [name, cpuSeconds === null ? null : percent(cpuSeconds)]),
  );
  const machineBusyPercent =
    start.machine && end.machine
      ? Math.round(((end.machine.busyTicks - start.machine.busyTicks) / (end.machine.totalTicks - start.machine.totalTicks)) * 1_000) / 10
      : null;
  return { seconds: Math.round(seconds * 100) / 100, machineBusyPercent, processPercentOfCore, processCpuSeconds };
}

function machineTicks(): CpuSnapshot["machine"] {
  try {
    // First line of /proc/stat: "cpu  user nice system idle iowait irq softirq steal ..."
    const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busyTicks: total - idle, totalTicks: total };
  } catch {
    return null;
  }
}

function processTicks(pid: number): number | null {
  try {
    // The command name in parentheses may contain spaces; fields are counted after its ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}
