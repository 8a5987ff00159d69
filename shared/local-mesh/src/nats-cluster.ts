import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManagedProcess } from "./managed-process.ts";
import { natsServerConfig, type NatsServerSecurity } from "./nats-config.ts";
import type { ProcessOptions } from "./parts.ts";
import { freePort } from "./ports.ts";
import { until } from "./wait.ts";

/**
 * A JetStream cluster on loopback, as production runs credmesh's bus (SPEC §6: R3): N nats-server
 * processes with unique `server_name`s, one cluster name, routes to each other and a store
 * directory each. The same shape as `startNats` (a url to hand to clients, stop), plus control of
 * each node for the reliability tests: kill (SIGKILL), pause/resume (SIGSTOP/SIGCONT), a graceful
 * stop and a restart on the same ports and store directory, and leader lookups. Each node's
 * configuration is written by @credmesh/local-mesh's `natsServerConfig` (the one of `credmesh up`),
 * with the same TLS certificate and role identities on every node when `security` is given.
 * Routes between the nodes stay on loopback, plaintext and without identities: in production they
 * are TLS with their own credentials (the NATS Helm chart's cluster settings).
 */
export interface NatsClusterOptions {
  /** Nodes (default 3). */
  nodes?: number;
  /**
   * JetStream's `sync_interval`: `"default"` leaves nats-server's own (fsync every 2 minutes, the
   * write acknowledged before), `"always"` fsyncs every write before acknowledging it.
   */
  syncInterval?: "default" | "always";
  /** Cluster name (default `credmesh`). */
  name?: string;
  /** TLS and the role identities, the same on every node (clients connect with `tls://`). */
  security?: NatsServerSecurity;
  /** Where the nodes keep their stores (`<dir>/<name>`) and configuration; default a scratch directory, removed on stop. */
  dir?: string;
  /** The first node's client and monitoring ports (`credmesh up`'s fixed ports); the others take free ports. */
  firstNode?: { port: number; monitorPort: number };
  /** How each node's process is run (`credmesh up`: a log file, its own process group). */
  processOptions?: (name: string) => ProcessOptions;
}

export interface ClusterNode {
  /** `server_name`, e.g. `n1`: what stream info reports as leader and replicas. */
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** The monitoring endpoint (`/healthz`, `/jsz`). */
  readonly monitorUrl: string;
  /** The current (or last) process; a new one after each restart. */
  readonly process: ManagedProcess;
  /** Every process this node ran, oldest first (for failure output). */
  readonly generations: readonly ManagedProcess[];
  readonly running: boolean;
  readonly paused: boolean;
}

export interface NatsCluster {
  /** Every node's client URL, comma-separated: what `CREDMESH_NATS_URL` takes. */
  readonly url: string;
  readonly urls: readonly string[];
  readonly nodes: readonly ClusterNode[];
  readonly syncInterval: "default" | "always";
  /** The node with this `server_name`. */
  node(name: string): ClusterNode;
  /** SIGKILL: the process dies without a word (its store directory stays). */
  kill(name: string): Promise<void>;
  /** SIGSTOP: the process freezes (sockets stay open, nothing answers). */
  pause(name: string): void;
  /** SIGCONT after {@link pause}. */
  resume(name: string): void;
  /** SIGTERM, as an orchestrator stopping the node (graceful: it leaves its raft groups cleanly). */
  stopNode(name: string): Promise<void>;
  /** Starts a stopped or killed node again on its ports and store directory; resolves when it is back in the cluster (JetStream current with the meta leader). */
  restart(name: string): Promise<void>;
  /** Resolves once every running node reports JetStream up and current with the meta leader (streams may still be catching up). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** The JetStream meta leader's `server_name`, as a running node's `/jsz` reports it (undefined during an election). */
  metaLeader(): Promise<string | undefined>;
  /** Stops every node; removes the store directories unless they are in a given `dir`. */
  stop(): Promise<void>;
}

export async function startNatsCluster(natsServer: string, options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const settings = { nodes: options.nodes ?? 3, syncInterval: options.syncInterval ?? "default", name: options.name ?? "credmesh" } as const;
  const scheme = options.security?.tls ? "tls" : "nats";
  // A scratch directory is removed on stop; a given one (credmesh up's run directory) stays.
  const owned = options.dir === undefined;
  const root = options.dir ?? (await mkdtemp(join(tmpdir(), "credmesh-nats-cluster-")));
  const layout = [];
  // Every port of the cluster distinct: the OS may hand a just-released port out again.
  const taken = new Set<number>();
  const distinctPort = async (fixed?: number): Promise<number> => {
    let port = fixed ?? (await freePort());
    while (fixed === undefined && taken.has(port)) port = await freePort();
    taken.add(port);
    return port;
  };
  for (let index = 0; index < settings.nodes; index++) {
    const name = `n${index + 1}`;
    const storeDir = join(root, name);
    await mkdir(storeDir, { recursive: true });
    const fixed = index === 0 ? options.firstNode : undefined;
    layout.push({
      name,
      port: await distinctPort(fixed?.port),
      clusterPort: await distinctPort(),
      monitorPort: await distinctPort(fixed?.monitorPort),
      storeDir,
      configFile: join(root, `${name}.conf`),
    });
  }
  const routes = layout.map((node) => node.clusterPort);
  for (const node of layout) {
    const config = natsServerConfig({
      port: node.port,
      monitorPort: node.monitorPort,
      storeDir: node.storeDir,
      ...(options.security ? { security: options.security } : {}),
      cluster: { serverName: node.name, clusterName: settings.name, routePort: node.clusterPort, routePorts: routes },
      syncInterval: settings.syncInterval,
    });
    await writeFile(node.configFile, config);
  }

  const state = layout.map((node) => ({ ...node, generations: [] as ManagedProcess[], paused: false }));
  const nodes: ClusterNode[] = state.map((node) => ({
    name: node.name,
    url: `${scheme}://127.0.0.1:${node.port}`,
    port: node.port,
    monitorUrl: `http://127.0.0.1:${node.monitorPort}`,
    get process(): ManagedProcess {
      const current = node.generations.at(-1);
      if (!current) throw new Error(`${node.name} was never started`);
      return current;
    },
    get generations(): readonly ManagedProcess[] {
      return node.generations;
    },
    get running(): boolean {
      return node.generations.at(-1)?.running ?? false;
    },
    get paused(): boolean {
      return node.paused;
    },
  }));
  /** SIGSTOP/SIGCONT to the node's current process (by pid: a frozen process cannot be asked anything). */
  const signal = (node: (typeof state)[number], sig: "SIGSTOP" | "SIGCONT"): void => {
    const pid = node.generations.at(-1)?.pid;
    if (pid !== undefined && node.generations.at(-1)?.running) process.kill(pid, sig);
  };
  const find = (name: string) => {
    const node = state.find((candidate) => candidate.name === name);
    if (!node) throw new Error(`no cluster node ${name}`);
    return node;
  };
  const launch = (node: (typeof state)[number]): ManagedProcess => {
    if (node.generations.at(-1)?.running) throw new Error(`${node.name} is already running`);
    const child = new ManagedProcess(`nats-${node.name}`, natsServer, ["-c", node.configFile], options.processOptions?.(`nats-${node.name}`) ?? {});
    node.generations.push(child);
    node.paused = false;
    return child;
  };
  /**
   * `/healthz` of a node. `assets: false` (`js-server-only`): JetStream up and current with the meta
   * leader — a node back in the cluster; its streams catch up in the background, as in production,
   * and a node killed with unsynced writes may take long to report every replica current.
   */
  const lastAnswer = new Map<string, string>();
  const healthy = async (node: (typeof state)[number], assets: boolean): Promise<boolean> => {
    const response = await fetch(`http://127.0.0.1:${node.monitorPort}/healthz${assets ? "" : "?js-server-only=true"}`, { signal: AbortSignal.timeout(2_000) });
    lastAnswer.set(node.name, `${response.status} ${(await response.text()).slice(0, 300)}`);
    return response.status === 200;
  };
  const untilHealthy = async (node: (typeof state)[number], what: string, assets: boolean, timeoutMs: number): Promise<void> => {
    try {
      await until(what, () => healthy(node, assets), timeoutMs, 100);
    } catch (error) {
      // The node's own last words (routes, elections) say why it did not join.
      const log = node.generations.at(-1)?.tail(40) ?? "";
      throw new Error(`${(error as Error).message}; its /healthz said: ${lastAnswer.get(node.name) ?? "nothing"}\n${log}`, { cause: error });
    }
  };
  const waitHealthy = async (timeoutMs = 60_000, assets = false): Promise<void> => {
    const running = state.filter((node) => node.generations.at(-1)?.running && !node.paused);
    await Promise.all(running.map((node) => untilHealthy(node, `${node.name} healthy`, assets, timeoutMs)));
  };

  const cluster: NatsCluster = {
    url: nodes.map((node) => node.url).join(","),
    urls: nodes.map((node) => node.url),
    nodes,
    syncInterval: settings.syncInterval,
    node: (name) => {
      const node = nodes.find((candidate) => candidate.name === name);
      if (!node) throw new Error(`no cluster node ${name}`);
      return node;
    },
    async kill(name) {
      const node = find(name);
      if (node.paused) signal(node, "SIGCONT");
      node.paused = false;
      await node.generations.at(-1)?.kill();
    },
    pause(name) {
      const node = find(name);
      signal(node, "SIGSTOP");
      node.paused = true;
    },
    resume(name) {
      const node = find(name);
      signal(node, "SIGCONT");
      node.paused = false;
    },
    async stopNode(name) {
      const node = find(name);
      if (node.paused) cluster.resume(name);
      await node.generations.at(-1)?.stop();
    },
    async restart(name) {
      const node = find(name);
      const child = launch(node);
      await child.waitForLine(/Server is ready/);
      await untilHealthy(node, `${name} healthy after restart`, false, 60_000);
    },
    waitHealthy,
    async metaLeader() {
      for (const node of state) {
        if (!node.generations.at(-1)?.running || node.paused) continue;
        try {
          const response = await fetch(`http://127.0.0.1:${node.monitorPort}/jsz`, { signal: AbortSignal.timeout(1_000) });
          const jsz = (await response.json()) as { meta_cluster?: { leader?: string } };
          return jsz.meta_cluster?.leader || undefined;
        } catch {
          // try the next node
        }
      }
      return undefined;
    },
    async stop() {
      for (const node of state) if (node.paused) signal(node, "SIGCONT");
      await Promise.allSettled(state.flatMap((node) => node.generations.slice(-1)).map((process) => process.stop()));
      if (owned) await rm(root, { recursive: true, force: true });
    },
  };

  try {
    await Promise.all(state.map((node) => launch(node).waitForLine(/Server is ready/)));
    await waitHealthy(60_000, true);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
