import { execFileSync } from "node:child_process";
import { availableParallelism, cpus, loadavg, release, totalmem } from "node:os";
import { loadTools } from "../../test/support/tools.ts";

/** The machine a result was measured on; results from different machines are not comparable. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  /** Node running the bench (and autocannon). */
  benchNode: string;
  /** Node running the floor and ingest. */
  serviceNode: string;
  natsServer: string;
  /** 1, 5 and 15 minute load averages when the run started: other work on the machine skews results. */
  loadAverageAtStart: number[];
}

export function machineInfo(natsServerVersion: string): MachineInfo {
  const tools = loadTools();
  return {
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${process.platform} ${release()} ${process.arch}`,
    benchNode: process.version,
    serviceNode: execFileSync(tools.node, ["--version"], { encoding: "utf8", timeout: 10_000 }).trim(),
    natsServer: natsServerVersion,
    loadAverageAtStart: loadavg().map((value) => Math.round(value * 100) / 100),
  };
}
