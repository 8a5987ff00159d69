import { performance } from "node:perf_hooks";
import { meshForRates } from "../e2e/section.ts";
import { floorCopy, floorTargets } from "../e2e/tasks.ts";
import { forgetOutput } from "../mesh/mesh.ts";
import { AuditWatch, DIRECTIONS, announce, changeSource, poolNames, seedReplicated, type Direction } from "../mesh/mutations.ts";
import { watchProcesses, type ProcessUsage } from "../processes.ts";
import { round, type RunContext, type Section } from "../section.ts";
import type { SettingsOf } from "../settings.ts";

const settings = {
  mutations: { kind: "int", default: 300, quick: 60, min: 10, max: 20_000, env: "BENCH_THROUGHPUT_MUTATIONS", help: "mutations per direction, one per secret" },
  concurrency: {
    kind: "int",
    default: 8,
    min: 1,
    max: 256,
    env: "BENCH_THROUGHPUT_CONCURRENCY",
    help: "the replicator's CREDMESH_REPLICATOR_CONCURRENCY and the floor's parallel workers",
  },
} as const;

type ThroughputSettings = SettingsOf<typeof settings>;

export interface ThroughputDirection {
  direction: Direction;
  mutations: number;
  /** Direct SDK read at the source + write at the destination, `concurrency` at a time. */
  floorPerSecond: number;
  /** The replicator draining a backlog of `mutations` events (started after they were all stored). */
  replicatorPerSecond: number;
  /** replicator ÷ floor. */
  ratio: number;
  /** Decisions of the drained backlog (all should be applied). */
  decisions: Record<string, number>;
  usage: ProcessUsage;
}

export interface ThroughputResult {
  concurrency: number;
  directions: ThroughputDirection[];
}

/**
 * Replicator throughput against the emulators' own direct-SDK throughput in the same run (SPEC §8,
 * issue 13 item 4). Per direction: N secrets replicated once; the floor reads each source and
 * writes a destination secret directly, `concurrency` workers; then, with the destination's
 * replicator stopped, every source gets a new version and its event is stored on the bus, and the
 * replicator is started to drain the backlog with the same concurrency, timed from its first
 * decision to its last. Rate limiters off.
 */
export const throughputSection: Section<typeof settings, ThroughputResult> = {
  name: "throughput",
  title: "Replicator throughput against direct-SDK throughput",
  settings,
  budgetSeconds: (values) => 600 + values.mutations * 2,
  run: runThroughput,
  ok: (result) => result.directions.every((direction) => (direction.decisions.applied ?? 0) === direction.mutations),
  report: (result) => [
    `${result.concurrency} at a time on both sides (the replicator's CREDMESH_REPLICATOR_CONCURRENCY and the floor's workers); rate limiters off.`,
    "",
    "| direction | mutations | direct SDK read + write /s | replicator /s | ratio | decisions | busiest process during the drain |",
    "|---|---:|---:|---:|---:|---|---|",
    ...result.directions.map((row) => {
      const [busiest, percent] = Object.entries(row.usage.cpu.processPercentOfCore)
        .filter(([name]) => name !== "bench")
        .reduce<[string, number]>((top, [name, value]) => ((value ?? 0) > top[1] ? [name, value ?? 0] : top), ["?", -1]);
      return `| ${row.direction === "aws-to-azure" ? "AWS → Azure" : "Azure → AWS"} | ${row.mutations} | ${row.floorPerSecond} | ${row.replicatorPerSecond} | **${row.ratio}** | ${JSON.stringify(row.decisions)} | ${busiest} ${percent}% |`;
    }),
  ],
};

async function runThroughput(values: ThroughputSettings, context: RunContext): Promise<ThroughputResult> {
  // A restarted replicator takes its partitions over once the old pins time out: 1 s, the least allowed.
  const mesh = await meshForRates(context, { CREDMESH_REPLICATOR_CONCURRENCY: String(values.concurrency), CREDMESH_PIN_TIMEOUT_MS: "1000" });
  const watch = new AuditWatch(mesh);
  context.defer(async () => watch.stop());
  const directions: ThroughputDirection[] = [];
  for (const direction of DIRECTIONS) {
    const destination = direction === "aws-to-azure" ? "azure" : "aws";
    context.progress(`throughput ${direction}: seeding ${values.mutations} secrets, each replicated once`);
    const secrets = await seedReplicated(mesh, watch, direction, poolNames(direction, "tp", values.mutations), context.signal, 16);
    const targets = await floorTargets(mesh, direction, "tp", values.mutations);
    await inParallel(secrets.length, 16, (index) => changeSource(mesh, direction, secrets[index] ?? secrets[0]!));

    context.progress(`throughput ${direction}: floor, ${values.mutations} direct reads and writes, ${values.concurrency} at a time`);
    const floorStart = performance.now();
    await inParallel(secrets.length, values.concurrency, (index) =>
      floorCopy(mesh, direction, secrets[index] ?? secrets[0]!, targets.names[index] ?? ""),
    );
    const floorPerSecond = round(secrets.length / ((performance.now() - floorStart) / 1_000));

    context.progress(`throughput ${direction}: ${values.mutations} events stored with replicator-${destination} stopped`);
    await mesh.stopReplicator(destination);
    const eventIds: string[] = [];
    await inParallel(secrets.length, 16, async (index) => {
      const secret = secrets[index] ?? secrets[0]!;
      await changeSource(mesh, direction, secret);
      eventIds.push(await announce(mesh, direction, secret));
    });
    context.progress(`throughput ${direction}: replicator-${destination} drains the backlog`);
    forgetOutput(mesh);
    await mesh.startReplicator(destination);
    const processes = watchProcesses(mesh.pids());
    const deadline = AbortSignal.any([context.signal, AbortSignal.timeout(600_000)]);
    const audited = await Promise.all(eventIds.map((id) => watch.wait(id, deadline)));
    const usage = processes.stop();
    // From the first decision to the last: the pin handover to the new process is not the replicator's throughput.
    const times = audited.map((record) => record?.receivedAt ?? performance.now());
    const drainStart = Math.min(...times);
    const drainEnd = Math.max(...times);
    const decisions: Record<string, number> = {};
    for (const record of audited) decisions[record?.decision ?? "none"] = (decisions[record?.decision ?? "none"] ?? 0) + 1;
    const replicatorPerSecond = round((secrets.length - 1) / ((drainEnd - drainStart) / 1_000));
    directions.push({
      direction,
      mutations: secrets.length,
      floorPerSecond,
      replicatorPerSecond,
      ratio: round(replicatorPerSecond / floorPerSecond, 2),
      decisions,
      usage,
    });
  }
  return { concurrency: values.concurrency, directions };
}

/** Runs `task(0..count-1)` with at most `limit` in flight. */
async function inParallel(count: number, limit: number, task: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}
