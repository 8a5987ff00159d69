/**
 * `npm run bench` (node bench/src/main.ts [--duration 10] [--connections 32] [--warmup 3] [--duplicates 100]),
 * or `npm run bench -- client` for the failover client's rows (src/client-bench.ts):
 * starts nats-server, the floor and ingest on loopback, measures both in one run, checks
 * durability and deduplication, writes bench/results/<timestamp>.json and latest.json, prints a
 * markdown table, and stops every process it started.
 * @see ../README.md
 */
import { mkdir, writeFile } from "node:fs/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNats } from "../../test/support/parts.ts";
import { checkDuplicates } from "./duplicates.ts";
import { EventBodies } from "./events.ts";
import { startFloor } from "./floor.ts";
import { startIngest } from "./ingest.ts";
import { machineInfo } from "./machine.ts";
import { measureTarget } from "./measure.ts";
import { parseOptions, type BenchOptions } from "./options.ts";
import { caveatsFor, markdownReport, type BenchResults } from "./results.ts";

// `npm run bench -- client`: the failover client's read latency per backend (src/client-bench.ts).
if (process.argv[2] === "client") {
  const { clientBenchMain } = await import("./client-bench.ts");
  process.exit(await clientBenchMain(process.argv.slice(3)));
}

const options = optionsOrExit();

/** A usage error names the setting and starts nothing. */
function optionsOrExit(): BenchOptions {
  try {
    return parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
}

/** Stops of everything started so far, run last-started first, once. */
const stops: Array<() => Promise<unknown>> = [];
let stopping: Promise<void> | undefined;
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => console.error("bench: stop failed:", error));
  })();
  return stopping;
}

function abort(reason: string): void {
  console.error(`bench: ${reason}; stopping every process it started`);
  void stopAll().finally(() => process.exit(1));
}

// Both targets' warm-up and measurement with 100 % slack, plus room for start-up, verification and shutdown.
const budgetSeconds = 2 * 2 * (options.warmupSeconds + options.durationSeconds) + 240;
const watchdog = setTimeout(() => abort(`the run exceeded its ${budgetSeconds} s budget`), budgetSeconds * 1_000);
process.once("SIGINT", () => abort("interrupted"));
process.once("SIGTERM", () => abort("terminated"));

async function run(): Promise<BenchResults> {
  const startedAt = new Date();
  const progress = (step: string): void => console.error(`bench: ${step}`);

  progress("starting nats-server, the floor and ingest");
  // The bench accounts CPU per process, so nats-server must be a local process, never a container.
  process.env.CREDMESH_TEST_RUNTIME = "processes";
  // Plaintext, without identities: the floor and ingest publish over the same kind of connection.
  const nats = await startNats({ plaintext: true });
  stops.push(() => nats.stop());
  const nc = await connect({ servers: nats.url, name: "credmesh-bench" });
  stops.push(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const floor = await startFloor(nats.url, jsm);
  stops.push(() => floor.stop());
  const ingest = await startIngest(nats.url);
  stops.push(() => ingest.stop());

  const machine = machineInfo(nc.info?.version ?? "unknown");
  const bodies = new EventBodies();
  const bus = { jsm, js, natsPid: nats.process?.pid };
  progress(`floor: ${options.warmupSeconds} s warm-up, ${options.durationSeconds} s at ${options.connections} connections`);
  const floorResult = await measureTarget(floor, bodies, options, bus);
  progress(`ingest: ${options.warmupSeconds} s warm-up, ${options.durationSeconds} s at ${options.connections} connections`);
  const ingestResult = await measureTarget(ingest, bodies, options, bus);
  progress(`duplicates: ${options.duplicates} concurrent deliveries of one event to ingest`);
  const duplicates = await checkDuplicates(ingest, bodies, options.duplicates, jsm, js);

  progress("stopping");
  await stopAll();
  const finishedAt = new Date();
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    totalSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10,
    options,
    machine,
    floor: floorResult,
    ingest: ingestResult,
    ingestPercentOfFloor: Math.round((ingestResult.eventsPerSecond / floorResult.eventsPerSecond) * 1_000) / 10,
    duplicates,
    caveats: caveatsFor(machine, [floorResult, ingestResult]),
    ok: floorResult.durability.ok && ingestResult.durability.ok && duplicates.ok,
  };
}

try {
  const results = await run();
  const dir = new URL("../results/", import.meta.url);
  await mkdir(dir, { recursive: true });
  const json = `${JSON.stringify(results, null, 2)}\n`;
  // ISO 8601 without colons, which some file systems and tools refuse in names.
  await writeFile(new URL(`${results.startedAt.replace(/:/g, "-")}.json`, dir), json);
  await writeFile(new URL("latest.json", dir), json);
  console.log(markdownReport(results));
  // A failed durability or duplicates check fails the command (CI), whatever the speed.
  process.exitCode = results.ok ? 0 : 1;
} catch (error) {
  console.error("bench: failed:", error);
  process.exitCode = 1;
} finally {
  await stopAll();
  clearTimeout(watchdog);
}
