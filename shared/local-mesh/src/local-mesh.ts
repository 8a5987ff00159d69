import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { CREDENTIAL_FILES, writeBusCredentials, type BusRole } from "@credmesh/bus-roles";
import { stringify } from "yaml";
import type { ManagedProcess } from "./managed-process.ts";
import { REPO_ROOT, startCredmeshService, startKeyVaultProcess, startMotoServer, startNatsServer, startPrometheus, type ProcessOptions } from "./parts.ts";
import { startNatsCluster } from "./nats-cluster.ts";
import { freePort, portIsFree } from "./ports.ts";
import { until } from "./wait.ts";
import { localPrometheusConfig } from "./prometheus-config.ts";
import {
  LOCAL_BUS_DEPLOYMENT,
  LOCAL_PARTS,
  LOCAL_RECONCILE_INTERVAL_SECONDS,
  LOCAL_SERVICE_NAMES,
  LOCAL_SERVICES,
  localBusRole,
  localPlaintextBus,
  localRules,
  localServiceEnv,
  type LocalKeys,
  type LocalServiceName,
} from "./topology.ts";
import type { Tools } from "./tools.ts";

export interface LocalMeshOptions {
  tools: Pick<Tools, "node" | "natsServer" | "motoServer" | "prometheus">;
  /** Where this run keeps its data, configuration and logs; emptied at start. */
  runDir: string;
  /** `fixed`: the topology's ports (what the README and compose use); `free`: any free ports (tests). */
  ports?: "fixed" | "free";
  /** Anti-entropy interval, the local change feed (default LOCAL_RECONCILE_INTERVAL_SECONDS). */
  reconcileIntervalSeconds?: number;
  /** Prometheus scraping every service (default on, every 5 s); false: no Prometheus. */
  prometheus?: { scrapeIntervalSeconds: number } | false;
  /** The identity-watcher's cells file (YAML text); default deploy/local/cells.yaml, as compose. */
  cells?: string;
  /** Extra environment per service, after the topology's (e.g. a test's shorter scan interval). */
  env?: Partial<Record<LocalServiceName, Record<string, string>>>;
  logLevel?: "trace" | "debug" | "info" | "warn" | "error";
  /** Lines each part keeps in memory (default 2,000; every line also goes to `<runDir>/logs/<part>.log`). */
  keepLines?: number;
  /** Each part in a process group of its own (`credmesh up`: Ctrl-C reaches only the CLI, which stops parts in order). */
  ownProcessGroups?: boolean;
  /**
   * The bus as production runs it: a 3-node JetStream cluster (`nats-n1`..`nats-n3`, the first on
   * the topology's NATS ports), every stream and bucket R3 (`CREDMESH_STREAM_REPLICAS=3`), JetStream
   * fsyncing as `syncInterval` says (default `always`, as compose and Helm). Kill or freeze a node
   * and watch the mesh carry on.
   */
  cluster?: { syncInterval?: "default" | "always" };
}

/** A part of the running mesh, as the status screen lists it. */
export interface RunningPart {
  name: string;
  what: string;
  /** Its main address (a URL). */
  address: string;
  pid: number | undefined;
  process: ManagedProcess;
}

export interface LocalMesh {
  parts: RunningPart[];
  /** `nats://127.0.0.1:<port>`: plaintext, local development only, but every client needs an identity. With `cluster`, every node's URL, comma-separated. */
  natsUrl: string;
  /** The nkey seed file of a bus identity of this run (README "Security model"), e.g. the operator's or the auditor's. */
  seedFile(role: BusRole): string;
  natsMonitorUrl: string;
  awsEndpoint: string;
  vaultUrl: string;
  imdsEndpoint: string;
  azureCaFile: string;
  ingestUrl: string;
  /** Ops endpoint (/healthz, /readyz, /metrics) of every service. */
  opsUrls: Record<LocalServiceName, string>;
  prometheusUrl: string | undefined;
  rulesFile: string;
  cellsFile: string;
  /** A file (mode 0600) holding the local webhook keys, for posting events by hand. */
  keysFile: string;
  /** The local keys themselves (tests post webhooks with them; never printed). */
  keys: LocalKeys;
  reconcileIntervalSeconds: number;
  logDir: string;
  /**
   * Resolves once every service answers /readyz with 200 and Prometheus (when it runs) reports every
   * scrape target up; rejects naming what is not ready after `timeoutMs`.
   */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Stops every part: Prometheus and the services first, the bus and the clouds last. */
  stop(): Promise<void>;
}

type PortName = "nats" | "natsMonitor" | "moto" | "keyvault" | "imds" | "prometheus" | LocalServiceName;

/** A port busy at start with the fixed topology ports. */
export class PortsInUseError extends Error {
  readonly busy: { part: string; port: number }[];

  constructor(busy: { part: string; port: number }[]) {
    super(`ports in use: ${busy.map(({ part, port }) => `${port} (${part})`).join(", ")}`);
    this.name = "PortsInUseError";
    this.busy = busy;
  }
}

/**
 * Runs the local topology as processes on 127.0.0.1: NATS JetStream, moto, the Key Vault emulator,
 * ingest, both replicators (anti-entropy every few seconds: the change feed), the identity-watcher
 * and Prometheus scraping them all. Resolves once every part is ready; on a failure, whatever
 * started is stopped again before the error is thrown.
 * @see ../../../README.md#quick-start
 */
export async function startLocalMesh(options: LocalMeshOptions): Promise<LocalMesh> {
  const ports = await allocatePorts(options.ports ?? "fixed");
  const runDir = resolve(options.runDir);
  for (const entry of ["nats", "keyvault", "prometheus", "logs", "keys.env", "bus"]) await rm(join(runDir, entry), { recursive: true, force: true });
  const logDir = join(runDir, "logs");
  await mkdir(logDir, { recursive: true });
  const processOptions = (name: string): ProcessOptions => ({
    logFile: join(logDir, `${name}.log`),
    keepLines: options.keepLines ?? 2_000,
    ownProcessGroup: options.ownProcessGroups ?? false,
  });
  const stoppers: Array<() => Promise<void>> = [];
  const parts: RunningPart[] = [];
  const stopAll = async () => {
    // Reverse start order: Prometheus, the services, then the clouds and the bus.
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    stoppers.length = 0;
  };
  try {
    // The bus identities of this run (one per role, fresh seeds every start): nats-server admits
    // only them, each with its role's permissions; every service gets its own seed.
    const busDir = join(runDir, "bus");
    writeBusCredentials(busDir, LOCAL_BUS_DEPLOYMENT);
    const seedFile = (role: BusRole) => join(busDir, CREDENTIAL_FILES.seed(role));
    const authorization = await readFile(join(busDir, CREDENTIAL_FILES.serverAuthorization), "utf8");
    // Started together; whatever started is stopped again if another part fails.
    const startBus = async (): Promise<{ url: string; monitorUrl?: string | undefined; parts: RunningPart[]; stop: () => Promise<void> }> => {
      if (!options.cluster) {
        const server = await startNatsServer(options.tools.natsServer, { port: ports.nats, monitorPort: ports.natsMonitor, storeDir: join(runDir, "nats"), security: { authorization }, ...processOptions("nats") });
        return { url: server.url, monitorUrl: server.monitorUrl, parts: [{ name: "nats", what: LOCAL_PARTS.nats.what, address: server.url, pid: server.process.pid, process: server.process }], stop: server.stop };
      }
      const cluster = await startNatsCluster(options.tools.natsServer, {
        dir: join(runDir, "nats"),
        firstNode: { port: ports.nats, monitorPort: ports.natsMonitor },
        syncInterval: options.cluster.syncInterval ?? "always",
        security: { authorization },
        processOptions,
      });
      return {
        url: cluster.url,
        monitorUrl: cluster.nodes[0]?.monitorUrl,
        parts: cluster.nodes.map((node) => ({ name: `nats-${node.name}`, what: `${LOCAL_PARTS.nats.what}, cluster node ${node.name}`, address: node.url, pid: node.process.pid, process: node.process })),
        stop: () => cluster.stop(),
      };
    };
    const [nats, moto, keyVault] = await settledAll(stoppers, [
      startBus(),
      startMotoServer(options.tools.motoServer, { port: ports.moto, ...processOptions("moto") }),
      startKeyVaultProcess(options.tools.node, { port: ports.keyvault, imdsPort: ports.imds, dir: join(runDir, "keyvault"), ...processOptions("keyvault") }),
    ] as const);
    parts.push(
      ...nats.parts,
      { name: "moto", what: LOCAL_PARTS.moto.what, address: moto.endpoint, pid: moto.process.pid, process: moto.process },
      { name: "keyvault", what: LOCAL_PARTS.keyvault.what, address: keyVault.vaultUrl, pid: keyVault.process.pid, process: keyVault.process },
    );

    const rulesFile = join(runDir, "rules.yaml");
    await writeFile(rulesFile, `# Written by credmesh up: the local topology's rules (deploy/local/rules.yaml with this vault URL).\n${stringify(localRules(keyVault.vaultUrl))}`);
    let cellsFile = resolve(REPO_ROOT, "deploy", "local", "cells.yaml");
    if (options.cells !== undefined) {
      cellsFile = join(runDir, "cells.yaml");
      await writeFile(cellsFile, options.cells);
    }
    const keys: LocalKeys = {
      eventBridgeApiKeys: [randomBytes(24).toString("base64url")],
      eventGridSharedKey: randomBytes(30).toString("base64url"),
      contentHashKey: randomBytes(32).toString("hex"),
    };
    const keysFile = join(runDir, "keys.env");
    await writeFile(
      keysFile,
      [
        "# Local webhook keys of this credmesh up run (throwaway; regenerated on every start).",
        `CREDMESH_LOCAL_API_KEY=${keys.eventBridgeApiKeys[0] ?? ""}`,
        `CREDMESH_LOCAL_EVENTGRID_KEY=${keys.eventGridSharedKey ?? ""}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const reconcileIntervalSeconds = options.reconcileIntervalSeconds ?? LOCAL_RECONCILE_INTERVAL_SECONDS;
    const where = {
      bindHost: "127.0.0.1",
      bus: (service: LocalServiceName) => localPlaintextBus(nats.url, seedFile(localBusRole(service))),
      awsEndpoint: moto.endpoint,
      imdsEndpoint: keyVault.imdsEndpoint,
      vaultUrl: keyVault.vaultUrl,
      // One emulator answers for every vault name.
      vaultUrlTemplate: keyVault.vaultUrl,
      azureCaFile: keyVault.caCertPath,
      rulesFile,
      cellsFile,
    };
    const services = await settledAll(
      stoppers,
      LOCAL_SERVICE_NAMES.map((service) => {
        const env = {
          ...localServiceEnv(service, where, keys, { logLevel: options.logLevel ?? "info", reconcileIntervalSeconds, port: ports[service] }),
          ...(options.cluster ? { CREDMESH_STREAM_REPLICAS: "3" } : {}),
          ...options.env?.[service],
        };
        return startCredmeshService(options.tools.node, service, env, processOptions(service)).then((process) => ({ service, process, stop: () => process.stop() }));
      }),
    );
    const opsUrls = Object.fromEntries(LOCAL_SERVICE_NAMES.map((service) => [service, `http://127.0.0.1:${ports[service]}`])) as Record<LocalServiceName, string>;
    for (const { service, process } of services) {
      parts.push({ name: service, what: LOCAL_SERVICES[service].what, address: opsUrls[service], pid: process.pid, process });
    }

    let prometheusUrl: string | undefined;
    if (options.prometheus !== false) {
      if (!options.tools.prometheus) throw new Error("Prometheus is not provisioned: run scripts/provision.sh");
      const configFile = join(runDir, "prometheus.yml");
      await writeFile(
        configFile,
        localPrometheusConfig({
          ruleDir: resolve(REPO_ROOT, "deploy", "prometheus"),
          scrapeIntervalSeconds: options.prometheus?.scrapeIntervalSeconds ?? 5,
          port: (service) => ports[service],
        }),
      );
      const prometheus = await startPrometheus(options.tools.prometheus, { port: ports.prometheus, configFile, dataDir: join(runDir, "prometheus"), ...processOptions("prometheus") });
      stoppers.push(prometheus.stop);
      prometheusUrl = prometheus.url;
      parts.push({ name: "prometheus", what: LOCAL_PARTS.prometheus.what, address: prometheus.url, pid: prometheus.process.pid, process: prometheus.process });
    }

    return {
      parts,
      natsUrl: nats.url,
      seedFile,
      natsMonitorUrl: nats.monitorUrl ?? "",
      awsEndpoint: moto.endpoint,
      vaultUrl: keyVault.vaultUrl,
      imdsEndpoint: keyVault.imdsEndpoint,
      azureCaFile: keyVault.caCertPath,
      ingestUrl: opsUrls.ingest,
      opsUrls,
      prometheusUrl,
      rulesFile,
      cellsFile,
      keysFile,
      keys,
      reconcileIntervalSeconds,
      logDir,
      waitReady: (timeoutMs = 60_000) => waitReady(opsUrls, prometheusUrl, timeoutMs),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * Awaits every start; each started part's stop joins `stoppers` (also when another start failed,
 * so nothing keeps running), then the first failure is thrown.
 */
async function settledAll<T extends readonly Promise<{ stop: () => Promise<void> }>[]>(stoppers: Array<() => Promise<void>>, starts: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(starts);
  for (const result of results) if (result.status === "fulfilled") stoppers.push(result.value.stop);
  const failed = results.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

async function waitReady(opsUrls: Record<LocalServiceName, string>, prometheusUrl: string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const service of LOCAL_SERVICE_NAMES) {
    await until(`${service} /readyz`, async () => (await fetch(`${opsUrls[service]}/readyz`, { signal: AbortSignal.timeout(2_000) })).ok, Math.max(1, deadline - Date.now()), 200);
  }
  if (prometheusUrl === undefined) return;
  await until(
    "Prometheus: every scrape target up",
    async () => {
      const response = await fetch(`${prometheusUrl}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(2_000) });
      const body = (await response.json()) as { data: { activeTargets: { health: string }[] } };
      const targets = body.data.activeTargets;
      return targets.length === LOCAL_SERVICE_NAMES.length && targets.every((target) => target.health === "up");
    },
    Math.max(1, deadline - Date.now()),
    250,
  );
}

async function allocatePorts(mode: "fixed" | "free"): Promise<Record<PortName, number>> {
  const fixed: Record<PortName, number> = {
    nats: LOCAL_PARTS.nats.port,
    natsMonitor: LOCAL_PARTS.nats.monitorPort,
    moto: LOCAL_PARTS.moto.port,
    keyvault: LOCAL_PARTS.keyvault.port,
    imds: LOCAL_PARTS.keyvault.imdsPort,
    prometheus: LOCAL_PARTS.prometheus.port,
    ingest: LOCAL_SERVICES.ingest.port,
    "replicator-azure": LOCAL_SERVICES["replicator-azure"].port,
    "replicator-aws": LOCAL_SERVICES["replicator-aws"].port,
    "identity-watcher": LOCAL_SERVICES["identity-watcher"].port,
  };
  if (mode === "free") {
    const free = {} as Record<PortName, number>;
    for (const name of Object.keys(fixed) as PortName[]) free[name] = await freePort();
    return free;
  }
  const busy: { part: string; port: number }[] = [];
  for (const [part, port] of Object.entries(fixed)) if (!(await portIsFree(port))) busy.push({ part, port });
  if (busy.length > 0) throw new PortsInUseError(busy);
  return fixed;
}
