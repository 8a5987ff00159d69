import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ManagedProcess, type ManagedProcessOptions } from "./managed-process.ts";
import { natsServerConfig, type NatsServerSecurity } from "./nats-config.ts";
import { freePort } from "./ports.ts";
import { LOCAL_SERVICES, type LocalServiceName } from "./topology.ts";
import { httpOk, until } from "./wait.ts";

/** The repository root: services and the Key Vault emulator run from their sources. */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** How a part's process is run: log file, kept lines, process group (see ManagedProcessOptions). */
export type ProcessOptions = Pick<ManagedProcessOptions, "logFile" | "keepLines" | "ownProcessGroup">;

export interface NatsServerPart {
  url: string;
  port: number;
  /** The monitoring endpoint (/varz, /jsz, /healthz), when a monitor port was asked for. */
  monitorUrl?: string;
  process: ManagedProcess;
  stop: () => Promise<void>;
}

/**
 * nats-server with JetStream on 127.0.0.1, its store in `storeDir` (a scratch directory, removed
 * on stop, when absent), with the TLS and role identities of `security` when given.
 */
export async function startNatsServer(
  natsServer: string,
  options: { port?: number; monitorPort?: number; storeDir?: string; security?: NatsServerSecurity } & ProcessOptions = {},
): Promise<NatsServerPart> {
  const port = options.port ?? (await freePort());
  const scratch = await mkdtemp(join(tmpdir(), "credmesh-nats-"));
  const configFile = join(scratch, "nats.conf");
  const storeDir = options.storeDir ?? join(scratch, "jetstream");
  await writeFile(configFile, natsServerConfig({ port, storeDir, ...(options.monitorPort === undefined ? {} : { monitorPort: options.monitorPort }), ...(options.security ? { security: options.security } : {}) }));
  const process = new ManagedProcess("nats-server", natsServer, ["-c", configFile], options);
  try {
    await process.waitForLine(/Server is ready/);
  } catch (error) {
    await process.stop();
    await rm(scratch, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `${options.security?.tls ? "tls" : "nats"}://127.0.0.1:${port}`,
    port,
    ...(options.monitorPort === undefined ? {} : { monitorUrl: `http://127.0.0.1:${options.monitorPort}` }),
    process,
    async stop() {
      await process.stop();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

export interface MotoServerPart {
  endpoint: string;
  process: ManagedProcess;
  stop: () => Promise<void>;
}

/**
 * moto in server mode: Secrets Manager, STS and IAM over their real wire protocols. `env` adds
 * moto settings, e.g. `INITIAL_NO_AUTH_ACTION_COUNT` to make it enforce IAM policies.
 */
export async function startMotoServer(motoServer: string, options: { port?: number; env?: Record<string, string> } & ProcessOptions = {}): Promise<MotoServerPart> {
  const port = options.port ?? (await freePort());
  const process = new ManagedProcess("moto", motoServer, ["-H", "127.0.0.1", "-p", String(port)], {
    ...options,
    ...(options.env ? { env: { ...globalThis.process.env, ...options.env } } : {}),
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await until("moto", async () => {
    if (!process.running) throw new Error(`moto exited\n${process.tail()}`);
    return httpOk(`${endpoint}/moto-api/`);
  });
  return { endpoint, process, stop: () => process.stop() };
}

/** What the Key Vault emulator prints once it accepts connections (test/emulators/keyvault/main.ts). */
export interface KeyVaultEndpoints {
  vaultUrl: string;
  imdsEndpoint: string;
  caCertPath: string;
  tenantId: string;
}

export interface KeyVaultProcessPart extends KeyVaultEndpoints {
  process: ManagedProcess;
  stop: () => Promise<void>;
}

/**
 * The repository's Key Vault emulator as a process of its own (docker compose runs the same
 * entry point): the secrets data plane over TLS, the managed-identity endpoint, Microsoft Graph.
 */
export async function startKeyVaultProcess(node: string, options: { port: number; imdsPort: number; dir: string } & ProcessOptions): Promise<KeyVaultProcessPart> {
  const process = new ManagedProcess(
    "keyvault",
    node,
    ["test/emulators/keyvault/main.ts", `--port=${options.port}`, `--imds-port=${options.imdsPort}`, `--dir=${options.dir}`],
    { ...options, cwd: REPO_ROOT },
  );
  const line = await process.waitForLine(/^\{"vaultUrl"/);
  const endpoints = JSON.parse(line) as KeyVaultEndpoints;
  return {
    vaultUrl: endpoints.vaultUrl,
    imdsEndpoint: endpoints.imdsEndpoint,
    caCertPath: endpoints.caCertPath,
    tenantId: endpoints.tenantId,
    process,
    stop: () => process.stop(),
  };
}

export interface PrometheusPart {
  url: string;
  process: ManagedProcess;
  stop: () => Promise<void>;
}

/** Prometheus on 127.0.0.1 with a configuration file and its own data directory. */
export async function startPrometheus(prometheus: string, options: { port: number; configFile: string; dataDir: string } & ProcessOptions): Promise<PrometheusPart> {
  const url = `http://127.0.0.1:${options.port}`;
  const process = new ManagedProcess(
    "prometheus",
    prometheus,
    [
      `--config.file=${options.configFile}`,
      `--storage.tsdb.path=${options.dataDir}`,
      `--web.listen-address=127.0.0.1:${options.port}`,
      // A local mesh's history: a day is plenty, and the data directory stays small.
      "--storage.tsdb.retention.time=1d",
    ],
    options,
  );
  await until("Prometheus", async () => {
    if (!process.running) throw new Error(`Prometheus exited\n${process.tail()}`);
    return (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) })).ok;
  });
  return { url, process, stop: () => process.stop() };
}

/**
 * Starts a credmesh service exactly as an operator would: `node <entry>` with configuration in the
 * environment (and nothing else of the caller's), listening on real sockets; resolves once it
 * logged that it is ready.
 */
export async function startCredmeshService(
  node: string,
  service: LocalServiceName | "replicator",
  env: Record<string, string>,
  options: ProcessOptions & { ready?: RegExp } = {},
): Promise<ManagedProcess> {
  const description = service === "replicator" ? LOCAL_SERVICES["replicator-azure"] : LOCAL_SERVICES[service];
  const { ready, ...processOptions } = options;
  const child = new ManagedProcess(service, node, [description.entry], {
    ...processOptions,
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
  });
  await child.waitForLine(ready ?? description.ready, 30_000);
  return child;
}
