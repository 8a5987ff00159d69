import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
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
  /** Node running the services, the floor and the Key Vault emulator. */
  serviceNode: string;
  natsServer: string;
  moto: string;
  /** 1, 5 and 15 minute load averages when the run started: other work on the machine skews results. */
  loadAverageAtStart: number[];
}

export function machineInfo(): MachineInfo {
  const tools = loadTools();
  const version = (command: string, args: readonly string[]): string => {
    try {
      return execFileSync(command, args, { encoding: "utf8", timeout: 10_000 }).trim().split("\n")[0] ?? "unknown";
    } catch {
      return "unknown";
    }
  };
  return {
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${process.platform} ${release()} ${process.arch}`,
    benchNode: process.version,
    serviceNode: version(tools.node, ["--version"]),
    natsServer: version(tools.natsServer, ["--version"]).replace(/^nats-server:\s*/, ""),
    // moto_server has no --version; its venv's python knows.
    moto: version(join(dirname(tools.motoServer), "python"), ["-c", "import moto; print(moto.__version__)"]),
    loadAverageAtStart: loadavg().map((value) => Math.round(value * 100) / 100),
  };
}
