import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { controlSubject } from "@credmesh/bus-names";
import { DEFAULT_RATE_LIMITS, VaultRateLimiter } from "@credmesh/vault";
import { waitForDrain } from "../../../test/support/replication-workload.ts";
import type { BenchMesh } from "../mesh/mesh.ts";
import { forgetOutput } from "../mesh/mesh.ts";
import { DIRECTIONS, createSource, poolNames, type Direction } from "../mesh/mutations.ts";
import { watchProcesses } from "../processes.ts";
import { startProxiedMesh } from "../quota/proxied-mesh.ts";
import type { QuotaProxy } from "../quota/quota-proxy.ts";
import { peakInWindow } from "../quota/window.ts";
import { round, type RunContext, type Section } from "../section.ts";
import type { SettingsOf } from "../settings.ts";

const settings = {
  sizes: {
    kind: "ints",
    default: [1_000, 3_000, 10_000],
    quick: [100, 300],
    min: 1,
    max: 100_000,
    env: "BENCH_RECONCILE_SIZES",
    help: "secrets per side at each step (ascending; each step adds sources, lets credmesh converge, then reconciles again)",
  },
} as const;

type ReconcileSettings = SettingsOf<typeof settings>;

/** How long a reconcile run may take to answer; a run over 10,000 secrets per side answers in seconds. */
const REPLY_TIMEOUT_MS = 300_000;

/** One line of a run's numbers, for the progress output (so a step's numbers survive a later failure). */
function summaryOf(run: ReconcileRun): string {
  const calls = [...Object.values(run.calls.aws), ...Object.values(run.calls.azure)].reduce((sum, n) => sum + n, 0);
  return (
    `${run.durationMs} ms, published ${run.published}, counts ${JSON.stringify(run.counts)}, ${calls} calls, ${run.throttled} throttled ` +
    `(${JSON.stringify(run.calls)}), value reads ${run.valueReads}, peak ${run.peak.awsPerSecond} SM/s ${run.peak.keyVaultPer10s} KV/10 s, ` +
    `replicator RSS peak ${run.replicatorRssMiB?.peak ?? "?"} MiB`
  );
}

/** Documented quotas the listing must stay under. */
const QUOTAS = {
  /** Secrets Manager ListSecrets: 100 requests per second per account and region (AWS, 2022-11). */
  awsListPerSecond: 100,
  /** Key Vault: 4,000 transactions per 10 s per vault. */
  keyVaultPer10s: 4_000,
};

/** One reconcile run as the bench saw it. */
export interface ReconcileRun {
  durationMs: number;
  /** The report's counts (sync, delete, orphan, conflict, unchanged, errors). */
  counts: Record<string, number>;
  /** Corrective mutations published (sync + delete). */
  published: number;
  /** Cloud calls during the run, per cloud and operation, counted by the proxies in front of the emulators. */
  calls: { aws: Record<string, number>; azure: Record<string, number> };
  /** Value reads among them (GetSecretValue, GetSecret of a version): must be 0. */
  valueReads: number;
  /** Answers 429 (throttled) from the clouds during the run: must be 0 with the limiters on. */
  throttled: number;
  /** Highest call rate: Secrets Manager calls in any 1 s, Key Vault calls in any 10 s. */
  peak: { awsPerSecond: number; keyVaultPer10s: number };
  /** The replicator's RSS during the run, MiB. */
  replicatorRssMiB: { mean: number; peak: number } | null;
}

export interface ReconcileStep {
  direction: Direction;
  /** Sources in scope (and replicas) at this step. */
  secrets: number;
  /** The run that found the new sources missing and published their corrections. */
  first?: ReconcileRun;
  /** The run after credmesh converged: must publish nothing. */
  second?: ReconcileRun;
  /**
   * Azure → AWS: a run right after the replicator restarted, which finds what earlier runs proved
   * about the Key Vault sources' versions on the bus instead of reading their version lists.
   */
  restarted?: ReconcileRun;
  /** Why the step could not be measured (no reply within the bound, a failed run, ...); later steps of its direction are skipped. */
  error?: string;
}

export interface ReconcileResult {
  steps: ReconcileStep[];
  quotas: typeof QUOTAS;
}

/**
 * Anti-entropy at scale (issue 13 item 6): per direction, sources are created without events in
 * steps (1k, 3k, 10k); a first reconcile finds the new ones missing and publishes their
 * corrections, the replicator converges, and a second reconcile must publish nothing; Azure → AWS
 * runs once more after the replicator restarted. Each run's wall time, cloud calls (counted by
 * proxies in front of moto and the Key Vault emulator: list pages, no value reads), throttling
 * answers, peak call rate against the quotas and the replicator's memory. The replicators run
 * with their default rate limits, as in production.
 */
export const reconcileSection: Section<typeof settings, ReconcileResult> = {
  name: "reconcile",
  title: "Anti-entropy at scale",
  settings,
  budgetSeconds: (values) => 600 + 2 * (values.sizes.at(-1) ?? 0) * 0.5,
  run: runReconcile,
  // The first run's window also holds the replicator applying what it published (same process, at once):
  // the converged run is the reconciler alone.
  ok: (result) =>
    result.steps.every(
      (step) =>
        step.second !== undefined &&
        step.second.published === 0 &&
        step.second.valueReads === 0 &&
        [step.first, step.second, step.restarted].every((run) => run === undefined || run.throttled === 0) &&
        (step.direction === "aws-to-azure" || (step.restarted !== undefined && step.restarted.published === 0 && step.restarted.valueReads === 0)),
    ),
  report: reportReconcile,
};

async function runReconcile(values: ReconcileSettings, context: RunContext): Promise<ReconcileResult> {
  const counting = { counted: new Set<string>(), limit: Number.POSITIVE_INFINITY, windowMs: 1_000 };
  context.progress("reconcile: starting the mesh (default rate limits) with counting proxies in front of moto and the Key Vault emulator");
  const { mesh, proxies } = await startProxiedMesh(context, { aws: counting, azure: counting });
  const steps: ReconcileStep[] = [];
  for (const direction of DIRECTIONS) {
    const destination = direction === "aws-to-azure" ? "azure" : "aws";
    let created = 0;
    for (const size of [...values.sizes].sort((a, b) => a - b)) {
      const step: ReconcileStep = { direction, secrets: size };
      steps.push(step);
      try {
        const names = poolNames(direction, "ae", size).slice(created);
        context.progress(`reconcile ${direction}: creating ${names.length} sources (no events), ${size} in all`);
        await createAll(mesh, direction, names, context);
        created = size;
        context.progress(`reconcile ${direction}: first run at ${size}`);
        step.first = await reconcile(mesh, destination, proxies, context);
        context.progress(`reconcile ${direction}: first run ${summaryOf(step.first)}; the replicator applies the corrections`);
        await waitForDrain(mesh.bus, destination, 900_000);
        forgetOutput(mesh);
        context.progress(`reconcile ${direction}: second run at ${size}`);
        step.second = await reconcile(mesh, destination, proxies, context);
        context.progress(`reconcile ${direction}: second run ${summaryOf(step.second)}`);
        if (direction === "azure-to-aws") {
          context.progress(`reconcile ${direction}: restarting replicator-aws, then a run at ${size}`);
          await mesh.stopReplicator("aws");
          await mesh.startReplicator("aws");
          step.restarted = await reconcile(mesh, destination, proxies, context);
          context.progress(`reconcile ${direction}: run after the restart ${summaryOf(step.restarted)}`);
        }
      } catch (error) {
        if (context.signal.aborted) throw error;
        step.error = error instanceof Error ? error.message : String(error);
        context.progress(`reconcile ${direction}: step ${size} could not be measured: ${step.error}`);
        break;
      }
    }
  }
  return { steps, quotas: QUOTAS };
}

/**
 * The bench's own Key Vault writes, paced below the vault's 4,000 requests per 10 s (the emulator
 * enforces it, as Key Vault does) so that seeding 10,000 sources does not meet the quota.
 */
const SEED_PACE = { limit: 3_000, windowMs: 10_000 };

/**
 * Creates the sources, 8 at a time, Key Vault ones paced ({@link SEED_PACE}). The emulators are
 * not the clouds: moto under a long burst of creates now and then answers with an HTML error page,
 * so the bench's own writes are retried (up to 5 attempts, 2 s apart) before the section gives up;
 * what credmesh does is measured afterwards.
 */
async function createAll(mesh: BenchMesh, direction: Direction, names: readonly string[], context: RunContext): Promise<void> {
  const pace =
    direction === "azure-to-aws"
      ? new VaultRateLimiter({ cloud: "azure", vault: "bench-seeding", settings: { ...DEFAULT_RATE_LIMITS, keyVault: { operations: SEED_PACE, creates: SEED_PACE } } })
      : undefined;
  let next = 0;
  let retried = 0;
  const create = async (name: string): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      const permit = await pace?.acquire("put", context.signal);
      try {
        await createSource(mesh, direction, name);
        return;
      } catch (error) {
        if (attempt >= 5 || context.signal.aborted) throw error;
        if (retried++ === 0) context.progress(`reconcile: retrying a source create (${error instanceof Error ? error.name : "error"})`);
        await sleep(2_000);
      } finally {
        permit?.settle();
      }
    }
  };
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < names.length) await create(names[next++] ?? "");
    }),
  );
}

async function reconcile(mesh: BenchMesh, destination: "azure" | "aws", proxies: { aws?: QuotaProxy; azure?: QuotaProxy }, context: RunContext): Promise<ReconcileRun> {
  const from = { aws: proxies.aws?.events.length ?? 0, azure: proxies.azure?.events.length ?? 0 };
  const watch = watchProcesses({ replicator: destination === "azure" ? mesh.replicators.azure?.pid : mesh.replicators.aws?.pid }, 100);
  const started = performance.now();
  const reply = await mesh.bus.request(controlSubject("reconcile", destination), JSON.stringify({}), { timeout: REPLY_TIMEOUT_MS });
  const durationMs = round(performance.now() - started);
  const usage = watch.stop();
  if (context.signal.aborted) throw new Error("aborted");
  const report = JSON.parse(new TextDecoder().decode(reply.data)) as { counts?: Record<string, number>; error?: { message: string } };
  if (report.counts === undefined) throw new Error(`reconcile of ${destination} answered ${report.error?.message ?? "no report"}`);
  const aws = proxies.aws?.events.slice(from.aws) ?? [];
  const azure = proxies.azure?.events.slice(from.azure) ?? [];
  const tally = (events: ReadonlyArray<{ operation: string }>): Record<string, number> => {
    const counts: Record<string, number> = {};
    // An empty operation is a Query-protocol call (STS) through the proxy in front of moto.
    for (const event of events) counts[event.operation || "STS"] = (counts[event.operation || "STS"] ?? 0) + 1;
    return counts;
  };
  const calls = { aws: tally(aws), azure: tally(azure) };
  const rss = usage.rssMiB.replicator;
  return {
    durationMs,
    counts: report.counts,
    published: (report.counts.sync ?? 0) + (report.counts.delete ?? 0),
    calls,
    valueReads: (calls.aws.GetSecretValue ?? 0) + (calls.aws.BatchGetSecretValue ?? 0) + (calls.azure.GetSecret ?? 0),
    throttled: [...aws, ...azure].filter((event) => event.throttled || event.status === 429).length,
    peak: { awsPerSecond: peakInWindow(aws.map((event) => event.at), 1_000), keyVaultPer10s: peakInWindow(azure.map((event) => event.at), 10_000) },
    replicatorRssMiB: rss === null || rss === undefined ? null : { mean: rss.mean, peak: rss.peak },
  };
}

function reportReconcile(result: ReconcileResult): string[] {
  const calls = (run: ReconcileRun): string =>
    [...Object.entries(run.calls.aws).map(([op, n]) => `SM ${op} ${n}`), ...Object.entries(run.calls.azure).map(([op, n]) => `KV ${op} ${n}`)].join(", ") || "none";
  const label: Record<"first" | "second" | "restarted", string> = {
    first: "1st (new sources missing; calls include the replicator applying them meanwhile)",
    second: "**2nd (converged)**",
    restarted: "**after a replicator restart**",
  };
  return [
    `Quotas: Secrets Manager ListSecrets ${result.quotas.awsListPerSecond}/s; Key Vault ${result.quotas.keyVaultPer10s} transactions per 10 s per vault. Replicators at their default rate limits.`,
    "",
    "| direction | secrets per side | run | wall s | published | unchanged | cloud calls (counted at the proxies) | value reads | throttled (429) | peak SM calls/s | peak KV calls/10 s | replicator RSS peak MiB |",
    "|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ...result.steps.flatMap((step) =>
      (step.direction === "azure-to-aws" ? (["first", "second", "restarted"] as const) : (["first", "second"] as const)).map((which) => {
        const direction = step.direction === "aws-to-azure" ? "AWS → Azure" : "Azure → AWS";
        const run = step[which];
        if (run === undefined) return `| ${direction} | ${step.secrets} | ${which} | — | FAILED: ${step.error ?? "not reached"} | | | | | | | |`;
        const mustPublishNothing = which !== "first" && run.published > 0;
        return (
          `| ${direction} | ${step.secrets} | ${label[which]} | ${round(run.durationMs / 1_000, 2)} | ${mustPublishNothing ? `**${run.published}** FAILED` : run.published} | ` +
          `${run.counts.unchanged ?? 0} | ${calls(run)} | ${run.valueReads} | ${run.throttled} | ${run.peak.awsPerSecond} | ${run.peak.keyVaultPer10s} | ${run.replicatorRssMiB?.peak ?? "?"} |`
        );
      }),
    ),
  ];
}
