import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManagedProcess } from "../../support/managed-process.ts";
import { freePort } from "../../support/ports.ts";
import { loadTools } from "../../support/tools.ts";

/**
 * A nats-server that can be stopped and started again on the same port and JetStream store
 * directory, as when a bus node restarts: clients reconnect to the address they know, and the
 * streams (file storage) survive. test/support's startNats picks a new port and directory on
 * every start, so it cannot stand in for a restart.
 */
export interface RestartableNats {
  readonly url: string;
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

export async function startRestartableNats(): Promise<RestartableNats> {
  const tools = loadTools();
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "credmesh-nats-restartable-"));
  const generations: ManagedProcess[] = [];

  const start = async (): Promise<void> => {
    const current = generations.at(-1);
    if (current?.running) throw new Error("nats-server is already running");
    const child = new ManagedProcess("nats-server", tools.natsServer, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir]);
    generations.push(child);
    await child.waitForLine(/Server is ready/);
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
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
