import { mkdir, writeFile } from "node:fs/promises";
import type { MachineInfo } from "./machine.ts";

/** One sub-command's part of a run. */
export interface SectionRecord<R = unknown> {
  name: string;
  title: string;
  startedAt: string;
  seconds: number;
  /** The settings it ran with (after flags, environment and defaults). */
  settings: Record<string, unknown>;
  /** Its correctness checks held (never a judgement of speed). */
  ok: boolean;
  result?: R;
  /** Why it could not measure (a part failed to start, a budget ran out, ...). */
  error?: string;
}

/**
 * One `npm run bench` run, as written to bench/results/<start>.json and latest.json (a run of every
 * sub-command) or latest-<sub-command>.json (a run of one). Each section's `result` has the shape
 * its sub-command exports (`IngestResult`, `EndToEndResult`, ...).
 * @see ../README.md
 */
export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  /** Wall time of the whole run, start-up and shutdown of every process included. */
  totalSeconds: number;
  /** The sub-command (`all` for every one) and flags it was started with. */
  command: string[];
  quick: boolean;
  machine: MachineInfo;
  sections: SectionRecord[];
  /** Every section measured and every correctness check held. */
  ok: boolean;
}

const RESULTS_DIR = new URL("../results/", import.meta.url);

/** Writes the run's file and its `latest` alias; returns the run file's path. */
export async function writeResults(results: BenchResults, subCommand: string): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const json = `${JSON.stringify(results, null, 2)}\n`;
  // ISO 8601 without colons, which some file systems and tools refuse in names.
  const stamp = results.startedAt.replace(/:/g, "-");
  const file = new URL(subCommand === "all" ? `${stamp}.json` : `${stamp}-${subCommand}.json`, RESULTS_DIR);
  await writeFile(file, json);
  await writeFile(new URL(subCommand === "all" ? "latest.json" : `latest-${subCommand}.json`, RESULTS_DIR), json);
  return file.pathname;
}

/** The markdown printed at the end of a run: the machine, then each section's table. */
export function markdownReport(results: BenchResults, reports: ReadonlyMap<string, string[]>): string {
  const { machine } = results;
  const lines = [
    `# credmesh bench — ${results.startedAt}${results.quick ? " (--quick: not a measurement)" : ""}`,
    "",
    `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; node ${machine.serviceNode}; nats-server ${machine.natsServer}; ` +
      `moto ${machine.moto}; load average at start ${machine.loadAverageAtStart.join(" / ")}`,
  ];
  for (const section of results.sections) {
    lines.push("", `## ${section.title} (\`npm run bench -- ${section.name}\`) — ${section.ok ? "ok" : "FAILED"}, ${section.seconds} s`, "");
    if (section.error !== undefined) lines.push(`Could not measure: ${section.error}`);
    else lines.push(...(reports.get(section.name) ?? []));
  }
  lines.push("", `Total run time ${results.totalSeconds} s. ${results.ok ? "Every correctness check held." : "A correctness check FAILED (exit 1)."}`);
  return lines.join("\n");
}
