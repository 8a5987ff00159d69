/**
 * `npm run bench -- client [--reads 200] [--cached-reads 10000]`: cached and cold read latency of the
 * failover client (`@credmesh/client`) per backend — Secrets Manager on moto, Key Vault on the Key
 * Vault emulator, each its own process on loopback — written to bench/results/client-<start>.json and
 * client-latest.json, and printed as a table. A cold read is a cache miss of a name never read (one
 * cloud call, the SDK's connection warm); a cached read is served from the cache.
 * @see ../README.md
 */
import { mkdir, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SecretClient } from "@azure/keyvault-secrets";
import { FailoverClient, type BackendOptions } from "@credmesh/client";
import { ManagedIdentityTokenSource, managedIdentityCredential } from "@credmesh/identity";
import { build, encodeIntoCompressedBase64 } from "hdr-histogram-js";
import { ManagedProcess } from "../../test/support/managed-process.ts";
import { startMoto } from "../../test/support/parts.ts";
import { REPO_ROOT } from "../../test/support/services.ts";
import { loadTools } from "../../test/support/tools.ts";
import { machineInfo, type MachineInfo } from "./machine.ts";

export interface ClientBenchOptions {
  /** Cold reads per backend: one per secret, each secret read once. */
  reads: number;
  /** Cached reads per backend, round-robin over the same secrets. */
  cachedReads: number;
}

interface Latency {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Microsecond hdr histogram, compressed base64. */
  histogramUs: string;
}

export interface ClientBackendResult {
  backend: "aws" | "azure";
  where: string;
  /** Milliseconds. */
  coldMs: Latency;
  /** Microseconds. */
  cachedUs: Latency;
  /** Reads that failed (each should be 0). */
  errors: number;
}

export interface ClientBenchResults {
  startedAt: string;
  finishedAt: string;
  options: ClientBenchOptions;
  machine: MachineInfo;
  backends: ClientBackendResult[];
  ok: boolean;
}

const LIMITS = { reads: { default: 200, min: 10, max: 5_000 }, "cached-reads": { default: 10_000, min: 100, max: 1_000_000 } } as const;

export function parseClientOptions(argv: readonly string[]): ClientBenchOptions {
  const { values } = parseArgs({ args: [...argv], strict: true, options: { reads: { type: "string" }, "cached-reads": { type: "string" } } });
  const read = (name: keyof typeof LIMITS): number => {
    const raw = values[name];
    if (raw === undefined) return LIMITS[name].default;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < LIMITS[name].min || value > LIMITS[name].max) {
      throw new RangeError(`--${name} must be a whole number from ${LIMITS[name].min} to ${LIMITS[name].max}, got "${raw}"`);
    }
    return value;
  };
  return { reads: read("reads"), cachedReads: read("cached-reads") };
}

const ACCOUNT = "123456789012";
const REGION = "us-east-1";

/** Runs the client bench; every process it starts is stopped before it returns. */
export async function runClientBench(options: ClientBenchOptions, progress: (step: string) => void): Promise<ClientBenchResults> {
  const startedAt = new Date();
  const stops: Array<() => Promise<unknown>> = [];
  try {
    progress("starting moto and the Key Vault emulator");
    process.env.CREDMESH_TEST_RUNTIME = "processes";
    const moto = await startMoto();
    stops.push(() => moto.stop());
    const kv = new ManagedProcess("keyvault-emulator", loadTools().node, ["test/emulators/keyvault/main.ts"], { cwd: REPO_ROOT });
    stops.push(() => kv.stop());
    const emulator = JSON.parse(await kv.waitForLine(/^\{/)) as { vaultUrl: string; imdsEndpoint: string; caCertPath: string };

    const stores: Record<"aws" | "azure", BackendOptions> = {
      aws: {
        cloud: "aws",
        account: ACCOUNT,
        region: REGION,
        endpoint: moto.endpoint,
        credentials: { type: "azure-managed-identity", roleArn: `arn:aws:iam::${ACCOUNT}:role/bench`, identityEndpoint: emulator.imdsEndpoint, stsEndpoint: moto.endpoint },
      },
      azure: {
        cloud: "azure",
        vaultUrl: emulator.vaultUrl,
        credential: { type: "managed-identity", endpoint: emulator.imdsEndpoint },
        caFile: emulator.caCertPath,
        disableChallengeResourceVerification: true,
      },
    };
    const names = Array.from({ length: options.reads + 20 }, (_, index) => `bench-client-${String(index).padStart(5, "0")}`);
    progress(`seeding ${names.length} secrets in each cloud`);
    await seed(moto.endpoint, emulator, names);

    const backends: ClientBackendResult[] = [];
    for (const backend of ["aws", "azure"] as const) {
      progress(`${backend}: ${options.reads} cold reads, ${options.cachedReads} cached reads`);
      backends.push(await measure(backend, stores[backend], names, options));
    }
    return { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), options, machine: machineInfo("n/a"), backends, ok: backends.every((b) => b.errors === 0) };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

async function seed(awsEndpoint: string, emulator: { vaultUrl: string; imdsEndpoint: string; caCertPath: string }, names: readonly string[]): Promise<void> {
  // The bench's own writers (moto accepts any credentials).
  const aws = new SecretsManagerClient({ region: REGION, endpoint: awsEndpoint, credentials: { accessKeyId: "bench", secretAccessKey: "bench" } });
  const kv = new SecretClient(
    emulator.vaultUrl,
    managedIdentityCredential(new ManagedIdentityTokenSource({ endpoint: emulator.imdsEndpoint })),
    { disableChallengeResourceVerification: true, tlsOptions: { ca: readFileSync(emulator.caCertPath, "utf8") } },
  );
  for (let index = 0; index < names.length; index += 16) {
    await Promise.all(
      names.slice(index, index + 16).flatMap((name) => [
        aws.send(new CreateSecretCommand({ Name: name, SecretString: `bench-value-${name}` })),
        kv.setSecret(name, `bench-value-${name}`),
      ]),
    );
  }
  aws.destroy();
}

async function measure(backend: "aws" | "azure", store: BackendOptions, names: readonly string[], options: ClientBenchOptions): Promise<ClientBackendResult> {
  const client = new FailoverClient({ primary: store, cache: { ttlMs: 600_000 }, deadlineMs: 30_000, attemptTimeoutMs: 30_000 });
  const cold = histogram();
  const cached = histogram();
  let errors = 0;
  try {
    // Warm-up on names the measurement does not use: credentials, connections, JIT.
    for (const name of names.slice(options.reads)) await client.get(name).catch(() => errors++);
    const measured = names.slice(0, options.reads);
    for (const name of measured) {
      const started = performance.now();
      try {
        await client.get(name);
        cold.recordValue(Math.max(1, Math.round((performance.now() - started) * 1_000)));
      } catch {
        errors++;
      }
    }
    for (let index = 0; index < options.cachedReads; index++) {
      const name = measured[index % measured.length] ?? "";
      const started = performance.now();
      const read = await client.get(name).catch(() => undefined);
      if (read?.source !== "cache") errors++;
      else cached.recordValue(Math.max(1, Math.round((performance.now() - started) * 1_000)));
    }
  } finally {
    client.close();
  }
  return { backend, where: backend === "aws" ? "moto (process)" : "Key Vault emulator (process)", coldMs: summary(cold, 1_000), cachedUs: summary(cached, 1), errors };
}

function histogram() {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

function summary(h: ReturnType<typeof histogram>, divisor: number): Latency {
  const at = (value: number): number => Math.round((value / divisor) * 100) / 100;
  return {
    count: h.totalCount,
    p50: at(h.getValueAtPercentile(50)),
    p90: at(h.getValueAtPercentile(90)),
    p99: at(h.getValueAtPercentile(99)),
    max: at(h.maxValue),
    histogramUs: encodeIntoCompressedBase64(h),
  };
}

export function clientMarkdown(results: ClientBenchResults): string {
  const { machine, options } = results;
  return [
    `## credmesh bench: failover client — ${results.startedAt}`,
    "",
    `${machine.cpuModel}, ${machine.cores} cores; node ${machine.benchNode}; ${options.reads} cold and ${options.cachedReads} cached reads per backend, one at a time`,
    "",
    "| backend | cold p50 ms | cold p99 ms | cold max ms | cached p50 µs | cached p99 µs | cached max µs | errors |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...results.backends.map(
      (b) => `| ${b.backend} (${b.where}) | ${b.coldMs.p50} | ${b.coldMs.p99} | ${b.coldMs.max} | ${b.cachedUs.p50} | ${b.cachedUs.p99} | ${b.cachedUs.max} | ${b.errors} |`,
    ),
    "",
    "Cold: a cache miss, one cloud call over a warm connection (Secrets Manager GetSecretValue; Key Vault GetSecret) to an emulator on the same 2 cores. Cached: served from memory.",
  ].join("\n");
}

/** Entry of `npm run bench -- client`. */
export async function clientBenchMain(argv: readonly string[]): Promise<number> {
  let options: ClientBenchOptions;
  try {
    options = parseClientOptions(argv);
  } catch (error) {
    console.error(`bench client: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  const results = await runClientBench(options, (step) => console.error(`bench client: ${step}`));
  const dir = new URL("../results/", import.meta.url);
  await mkdir(dir, { recursive: true });
  const json = `${JSON.stringify(results, null, 2)}\n`;
  await writeFile(new URL(`client-${results.startedAt.replace(/:/g, "-")}.json`, dir), json);
  await writeFile(new URL("client-latest.json", dir), json);
  console.log(clientMarkdown(results));
  return results.ok ? 0 : 1;
}
