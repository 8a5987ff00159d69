/**
 * `npm run bench [-- <sub-command>] [--quick] [--<setting> value ...]`: the benchmarks of SPEC §8
 * and issue 13, each against a floor measured in the same run. Without a sub-command every one runs,
 * in the order below. Each starts the processes it needs on loopback, measures, checks what must be
 * exact, and stops everything it started; the run writes bench/results/<start>.json (and
 * latest.json, or latest-<sub-command>.json) and prints markdown tables. Exit 1 only when a
 * correctness check fails or a section could not measure; speed never fails the command. Exit 2 on
 * a usage error, before anything starts.
 * @see ../README.md
 */
import { callsSection } from "./calls/section.ts";
import { clientSection } from "./client/client-bench.ts";
import { endToEndSection } from "./e2e/section.ts";
import { footprintSection } from "./footprint/section.ts";
import { ingestSection } from "./ingest/section.ts";
import { machineInfo } from "./machine.ts";
import { quotaSection } from "./quota/section.ts";
import { reconcileSection } from "./reconcile/section.ts";
import { markdownReport, writeResults, type BenchResults, type SectionRecord } from "./results.ts";
import { type AnySection, round } from "./section.ts";
import { UsageError, parseSettings, usageOf, type SettingsOf, type SettingsTable } from "./settings.ts";
import { throughputSection } from "./throughput/section.ts";

const SECTIONS: readonly AnySection[] = [
  ingestSection,
  callsSection,
  endToEndSection,
  throughputSection,
  quotaSection,
  reconcileSection,
  footprintSection,
  clientSection,
];

const [first, ...rest] = process.argv.slice(2);
const subCommand = first === undefined || first.startsWith("--") ? "all" : first;
const flags = first === undefined || first.startsWith("--") ? process.argv.slice(2) : rest;

if (subCommand === "help" || flags.includes("--help")) {
  console.log(usage());
  process.exit(0);
}

const selected = subCommand === "all" ? SECTIONS : SECTIONS.filter((section) => section.name === subCommand);
const planned = plan();

/** Parses every selected section's settings before anything starts; a usage error exits 2. */
function plan(): { quick: boolean; runs: Array<{ section: AnySection; values: SettingsOf<SettingsTable> }> } {
  try {
    if (selected.length === 0) throw new UsageError(`unknown sub-command "${subCommand}"`);
    // In a run of every section, the flags may only be --quick; settings come from the environment.
    if (subCommand === "all" && flags.some((flag) => flag !== "--quick")) {
      throw new UsageError("a run of every section takes only --quick; give a sub-command to pass its settings (npm run bench -- help)");
    }
    let quick = false;
    const runs = selected.map((section) => {
      const parsed = parseSettings(section.settings, flags, process.env);
      quick = parsed.quick;
      return { section, values: parsed.values };
    });
    return { quick, runs };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}\n\n${usage()}`);
    process.exit(2);
  }
}

function usage(): string {
  return [
    "npm run bench [-- <sub-command>] [--quick] [--<setting> value ...]",
    "",
    "Without a sub-command every section runs (settings from the environment, or --quick).",
    ...SECTIONS.flatMap((section) => ["", `${section.name}: ${section.title}`, ...usageOf(section.settings)]),
  ].join("\n");
}

const interrupted = new AbortController();
process.once("SIGINT", () => interrupted.abort(new Error("interrupted")));
process.once("SIGTERM", () => interrupted.abort(new Error("terminated")));

async function runSection(section: AnySection, values: SettingsOf<SettingsTable>, reports: Map<string, string[]>): Promise<SectionRecord> {
  const startedAt = new Date();
  const stops: Array<() => Promise<unknown>> = [];
  const budgetSeconds = section.budgetSeconds(values);
  const signal = AbortSignal.any([interrupted.signal, AbortSignal.timeout(budgetSeconds * 1_000)]);
  const record = (ok: boolean, extra: Pick<SectionRecord, "result" | "error">): SectionRecord => ({
    name: section.name,
    title: section.title,
    startedAt: startedAt.toISOString(),
    seconds: round((Date.now() - startedAt.getTime()) / 1_000),
    settings: values,
    ok,
    ...extra,
  });
  try {
    const aborted = new Promise<never>((_, reject) => {
      const fail = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error(`exceeded its ${budgetSeconds} s budget`));
      if (signal.aborted) fail();
      else signal.addEventListener("abort", fail, { once: true });
    });
    const context = {
      progress: (step: string) => console.error(`bench: ${step}`),
      defer: (stop: () => Promise<unknown>) => void stops.push(stop),
      signal,
      quick: planned.quick,
    };
    const result: unknown = await Promise.race([section.run(values, context), aborted]);
    reports.set(section.name, section.report(result));
    return record(section.ok(result), { result });
  } catch (error) {
    const message = error instanceof Error ? (error.name === "TimeoutError" ? `exceeded its ${budgetSeconds} s budget` : error.message) : String(error);
    console.error(`bench: ${section.name} failed:`, error);
    return record(false, { error: message });
  } finally {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => console.error(`bench: ${section.name}: a stop failed:`, error));
  }
}

const startedAt = new Date();
const machine = machineInfo();
const reports = new Map<string, string[]>();
const records: SectionRecord[] = [];
for (const { section, values } of planned.runs) {
  if (interrupted.signal.aborted) break;
  records.push(await runSection(section, values, reports));
}
const finishedAt = new Date();
const results: BenchResults = {
  startedAt: startedAt.toISOString(),
  finishedAt: finishedAt.toISOString(),
  totalSeconds: round((finishedAt.getTime() - startedAt.getTime()) / 1_000),
  command: process.argv.slice(2),
  quick: planned.quick,
  machine,
  sections: records,
  ok: !interrupted.signal.aborted && records.length === planned.runs.length && records.every((section) => section.ok),
};
const file = await writeResults(results, subCommand);
console.log(markdownReport(results, reports));
console.error(`bench: results in ${file}`);
process.exit(results.ok ? 0 : 1);
