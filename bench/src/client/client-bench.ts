import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SecretClient } from "@azure/keyvault-secrets";
import { FailoverClient, type BackendOptions } from "@credmesh/client";
import { ManagedIdentityTokenSource, managedIdentityCredential } from "@credmesh/identity";
import { build, encodeIntoCompressedBase64 } from "hdr-histogram-js";
import { ManagedProcess } from "../../../test/support/managed-process.ts";
import { startMoto } from "../../../test/support/parts.ts";
import { REPO_ROOT } from "../../../test/support/services.ts";
import { loadTools } from "../../../test/support/tools.ts";
import type { RunContext, Section } from "../section.ts";
import type { SettingsOf } from "../settings.ts";

const settings = {
  reads: { kind: "int", default: 200, quick: 50, min: 10, max: 5_000, help: "cold reads per backend, one per secret" },
  "cached-reads": { kind: "int", default: 10_000, quick: 1_000, min: 100, max: 1_000_000, help: "cached reads per backend, round-robin over the same secrets" },
} as const;

type ClientSettings = SettingsOf<typeof settings>;

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

export interface ClientBenchResult {
  reads: number;
  cachedReads: number;
  backends: ClientBackendResult[];
}

/**
 * `npm run bench -- client`: cold and cached read latency of the failover client
 * (`@credmesh/client`) per backend — Secrets Manager on moto, Key Vault on the Key Vault emulator,
 * each its own process on loopback. A cold read is a cache miss of a name never read (one cloud
 * call, the SDK's connection warm); a cached read is served from the cache. Fails if any read
 * failed or a cached read was not served from the cache.
 */
export const clientSection: Section<typeof settings, ClientBenchResult> = {
  name: "client",
  title: "Failover client reads",
  settings,
  budgetSeconds: (values) => 180 + values.reads * 0.5 + values["cached-reads"] / 1_000,
  run: runClientBench,
  ok: (result) => result.backends.every((backend) => backend.errors === 0),
  report: clientMarkdown,
};

const ACCOUNT = "123456789012";
const REGION = "us-east-1";

async function runClientBench(values: ClientSettings, context: RunContext): Promise<ClientBenchResult> {
  const options = { reads: values.reads, cachedReads: values["cached-reads"] };
  context.progress("client: starting moto and the Key Vault emulator");
  process.env.CREDMESH_TEST_RUNTIME = "processes";
  const moto = await startMoto();
  context.defer(() => moto.stop());
  const kv = new ManagedProcess("keyvault-emulator", loadTools().node, ["test/emulators/keyvault/main.ts"], { cwd: REPO_ROOT });
  context.defer(() => kv.stop());
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
  context.progress(`client: seeding ${names.length} secrets in each cloud`);
  await seed(moto.endpoint, emulator, names);

  const backends: ClientBackendResult[] = [];
  for (const backend of ["aws", "azure"] as const) {
    context.progress(`client: ${backend}: ${options.reads} cold reads, ${options.cachedReads} cached reads`);
    backends.push(await measure(backend, stores[backend], names, options));
  }
  return { ...options, backends };
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

async function measure(
  backend: "aws" | "azure",
  store: BackendOptions,
  names: readonly string[],
  options: { reads: number; cachedReads: number },
): Promise<ClientBackendResult> {
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

function clientMarkdown(result: ClientBenchResult): string[] {
  return [
    `${result.reads} cold and ${result.cachedReads} cached reads per backend, one at a time.`,
    "",
    "| backend | cold p50 ms | cold p99 ms | cold max ms | cached p50 µs | cached p99 µs | cached max µs | errors |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...result.backends.map(
      (b) => `| ${b.backend} (${b.where}) | ${b.coldMs.p50} | ${b.coldMs.p99} | ${b.coldMs.max} | ${b.cachedUs.p50} | ${b.cachedUs.p99} | ${b.cachedUs.max} | ${b.errors} |`,
    ),
    "",
    "Cold: a cache miss, one cloud call over a warm connection (Secrets Manager GetSecretValue; Key Vault GetSecret) to an emulator on the same cores. Cached: served from memory.",
  ];
}
