import { performance } from "node:perf_hooks";
import { openLoop, type OpenLoopResult } from "../e2e/open-loop.ts";
import { credmeshTask } from "../e2e/tasks.ts";
import { forgetOutput } from "../mesh/mesh.ts";
import { AuditWatch, poolNames, seedReplicated, type Direction } from "../mesh/mutations.ts";
import { round, type RunContext, type Section } from "../section.ts";
import type { SettingsOf } from "../settings.ts";
import { startProxiedMesh } from "./proxied-mesh.ts";

const settings = {
  quota: { kind: "int", default: 20, min: 1, max: 200, env: "BENCH_QUOTA_WRITES_PER_SECOND", help: "the cloud's write quota and the limiter's setting, writes per second" },
  duration: { kind: "int", default: 40, quick: 20, min: 15, max: 600, env: "BENCH_QUOTA_DURATION", help: "seconds of arrivals at twice the quota" },
  pool: { kind: "int", default: 100, quick: 40, min: 1, max: 5_000, env: "BENCH_QUOTA_POOL", help: "secrets the mutations go round" },
} as const;

type QuotaSettings = SettingsOf<typeof settings>;

/**
 * The Secrets Manager operations whose rate AWS limits together, the quota a replica update meets:
 * "combined rate of PutSecretValue, RemoveRegionsFromReplication, ReplicateSecretToRegion,
 * StopReplicationToReplica, UpdateSecret and UpdateSecretVersionStage: 50 per second" (AWS Secrets
 * Manager quotas, reference_limits). CreateSecret, TagResource and the others have quotas of their own.
 */
const SECRETS_MANAGER_PUT_QUOTA: ReadonlySet<string> = new Set([
  "PutSecretValue",
  "RemoveRegionsFromReplication",
  "ReplicateSecretToRegions",
  "StopReplicationToReplica",
  "UpdateSecret",
  "UpdateSecretVersionStage",
]);

/** One cloud's limiter shape against that cloud's quota. */
export interface QuotaShape {
  shape: "aws" | "azure";
  /** What the quota counts and over which window, as the proxy enforced it. */
  quota: { operations: string[]; limit: number; windowMs: number };
  /** The replicator's limiter settings. */
  limiter: Record<string, string>;
  offeredPerSecond: number;
  /** Counted operations the cloud accepted per second, over the steady part of the run. */
  acceptedPerSecond: number;
  /** That as a percentage of the quota (per second). */
  percentOfQuota: number;
  /** Throttling answers the cloud gave (must be 0). */
  throttled: number;
  /** The steady part: from `fromSecond` to `toSecond` after the first arrival. */
  window: { fromSecond: number; toSecond: number };
  load: OpenLoopResult;
}

export interface QuotaResult {
  shapes: QuotaShape[];
}

/**
 * Quota saturation (issue 13 item 5): a proxy in front of each emulator enforces the cloud's quota
 * (Secrets Manager writes per second; Key Vault SetSecret per 10 s, sliding) and answers as the
 * throttled cloud does; the replicator's limiter is set to exactly that quota, and twice the quota
 * is offered. The limiter must sustain ≥ 95 % of the quota with 0 throttling answers.
 */
export const quotaSection: Section<typeof settings, QuotaResult> = {
  name: "quota",
  title: "Quota saturation: the limiter at the quota, twice the quota offered",
  settings,
  budgetSeconds: (values) => 2 * (300 + values.duration * 3 + values.pool),
  run: runQuota,
  ok: (result) => result.shapes.every((shape) => shape.throttled === 0),
  report: (result) => [
    "| cloud shape | quota (enforced by the proxy) | limiter | offered mutations/s | accepted counted calls/s (steady) | % of quota | throttling answers |",
    "|---|---|---|---:|---:|---:|---:|",
    ...result.shapes.map(
      (shape) =>
        `| ${shape.shape === "aws" ? "Secrets Manager (Azure → AWS)" : "Key Vault (AWS → Azure)"} | ${shape.quota.limit} ${shape.quota.operations.length > 1 ? "PutSecretValue-group calls" : shape.quota.operations.join("")} per ${shape.quota.windowMs / 1_000} s | ` +
        `${Object.entries(shape.limiter).map(([key, value]) => `${key.replace("CREDMESH_RATE_LIMIT_", "")}=${value}`).join(", ")} | ${shape.offeredPerSecond} | ` +
        `${shape.acceptedPerSecond} (s ${shape.window.fromSecond}–${shape.window.toSecond}) | **${shape.percentOfQuota}** | ${shape.throttled === 0 ? "0" : `**${shape.throttled}** FAILED`} |`,
    ),
    "",
    "% of quota ≥ 95 is the target; a throttling answer fails the bench (exit 1).",
  ],
};

async function runQuota(values: QuotaSettings, context: RunContext): Promise<QuotaResult> {
  return { shapes: [await runShape("aws", values, context), await runShape("azure", values, context)] };
}

async function runShape(shape: "aws" | "azure", values: QuotaSettings, context: RunContext): Promise<QuotaShape> {
  const direction: Direction = shape === "aws" ? "azure-to-aws" : "aws-to-azure";
  const quota =
    shape === "aws"
      ? { operations: [...SECRETS_MANAGER_PUT_QUOTA], limit: values.quota, windowMs: 1_000 }
      : { operations: ["SetSecret"], limit: values.quota * 10, windowMs: 10_000 };
  const limiter: Record<string, string> =
    shape === "aws"
      ? { CREDMESH_RATE_LIMIT: "true", CREDMESH_RATE_LIMIT_AWS_WRITES_PER_SECOND: String(values.quota) }
      : { CREDMESH_RATE_LIMIT: "true", CREDMESH_RATE_LIMIT_KEYVAULT_CREATES_PER_10S: String(values.quota * 10) };
  context.progress(`quota ${shape}: starting the mesh with a ${quota.limit} per ${quota.windowMs / 1_000} s quota in front of the ${shape === "aws" ? "moto" : "Key Vault emulator"}`);
  const proxyQuota = { counted: new Set(quota.operations), limit: quota.limit, windowMs: quota.windowMs };
  const { mesh, proxies } = await startProxiedMesh(context, shape === "aws" ? { aws: proxyQuota } : { azure: proxyQuota }, {
    destinations: [shape === "aws" ? "aws" : "azure"],
    replicatorEnv: limiter,
  });
  const watch = new AuditWatch(mesh);
  context.defer(async () => watch.stop());
  const counted = proxies[shape];
  if (counted === undefined) throw new Error("the quota proxy did not start");

  context.progress(`quota ${shape}: seeding ${values.pool} secrets (at the quota)`);
  const pool = await seedReplicated(mesh, watch, direction, poolNames(direction, "quota", values.pool), context.signal, 4);
  forgetOutput(mesh);
  const offered = values.quota * 2;
  context.progress(`quota ${shape}: ${offered} mutations/s offered for ${values.duration} s`);
  const startedAt = performance.now();
  // Arrivals beyond what the quota lets through queue in JetStream; the run only needs the steady part.
  const drain = AbortSignal.any([context.signal, AbortSignal.timeout((values.duration + 5) * 1_000)]);
  const load = await openLoop(offered, values.duration, credmeshTask(mesh, watch, direction, pool, drain));
  // Skip the first window and a few seconds of start; stop at the last arrival.
  const fromSecond = Math.ceil(quota.windowMs / 1_000) + 2;
  const toSecond = values.duration;
  const inWindow = counted.events.filter((event) => event.counted && !event.throttled && event.at >= startedAt + fromSecond * 1_000 && event.at < startedAt + toSecond * 1_000);
  const perWindowLimit = quota.limit / (quota.windowMs / 1_000);
  const acceptedPerSecond = round(inWindow.length / (toSecond - fromSecond), 2);
  return {
    shape,
    quota,
    limiter,
    offeredPerSecond: offered,
    acceptedPerSecond,
    percentOfQuota: round((acceptedPerSecond / perWindowLimit) * 100),
    throttled: counted.events.filter((event) => event.throttled).length,
    window: { fromSecond, toSecond },
    load,
  };
}
