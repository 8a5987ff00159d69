import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { natsServerConfig } from "@credmesh/local-mesh";
import { busAccess, createBusSecurity, natsServerSecurity, type BusAccess } from "../../support/bus-security.ts";
import { ManagedProcess } from "../../support/managed-process.ts";
import { freePort } from "../../support/ports.ts";
import { loadTools } from "../../support/tools.ts";

/**
 * A nats-server that can be stopped and started again on the same port and JetStream store
 * directory, as when a bus node restarts: clients reconnect to the address they know, and the
 * streams (file storage) survive. test/support's startNats picks a new port and directory on
 * every start, so it cannot stand in for a restart.
 */
export interface RestartableNats extends BusAccess {
  readonly port: number;
  /** The process currently (or last) running; a new one after each start(). */
  readonly process: ManagedProcess;
  /** Every process started so far, oldest first (for failure output). */
  readonly generations: readonly ManagedProcess[];
  /** SIGTERM, as an orchestrator stopping the node would send. */
  stop(): Promise<void>;
  /** Starts a new server on the same port and store directory; resolves once it is ready. */
  start(): Promise<void>;
  /** Stops the server and removes its store directory. */
  dispose(): Promise<void>;
}

/** Like startNats: TLS and the role identities (kept across restarts, as a node's files are). */
export async function startRestartableNats(): Promise<RestartableNats> {
  const tools = loadTools();
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "credmesh-nats-restartable-"));
  const security = await createBusSecurity(dir);
  const configFile = join(dir, "nats.conf");
  await writeFile(configFile, natsServerConfig({ port, storeDir: join(dir, "jetstream"), security: await natsServerSecurity(security) }));
  const generations: ManagedProcess[] = [];

  const start = async (): Promise<void> => {
    const current = generations.at(-1);
    if (current?.running) throw new Error("nats-server is already running");
    const child = new ManagedProcess("nats-server", tools.natsServer, ["-c", configFile]);
    generations.push(child);
    await child.waitForLine(/Server is ready/);
  };

  await start();
  return {
    ...busAccess(`tls://127.0.0.1:${port}`, security),
    port,
    get process(): ManagedProcess {
      const current = generations.at(-1);
      if (!current) throw new Error("nats-server was never started");
      return current;
    },
    generations,
    async stop() {
      await generations.at(-1)?.stop();
    },
    start,
    async dispose() {
      await generations.at(-1)?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
