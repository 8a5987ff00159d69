import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startKeyVaultEmulator, type KeyVaultEmulator, type KeyVaultEmulatorOptions } from "../emulators/keyvault/index.ts";
import { IMAGES, partsRuntime } from "./container-runtime.ts";
import { ManagedProcess } from "./managed-process.ts";
import { freePort } from "./ports.ts";
import { loadTools } from "./tools.ts";
import { httpOk, until } from "./wait.ts";

/**
 * The real parts: testcontainers when a Docker engine exists, otherwise local processes on free
 * loopback ports (this machine kind has no engine). Each start function returns what a client
 * needs and a stop(); `process` is set in process mode only.
 */
export interface NatsPart {
  url: string;
  port: number;
  process?: ManagedProcess;
  stop(): Promise<void>;
}

export async function startNats(): Promise<NatsPart> {
  if ((await partsRuntime()) === "containers") {
    const { GenericContainer, Wait } = await import("testcontainers");
    const container = await new GenericContainer(IMAGES.nats)
      .withCommand(["-js"])
      .withExposedPorts(4222)
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .start();
    const port = container.getMappedPort(4222);
    return { url: `nats://${container.getHost()}:${port}`, port, stop: async () => void (await container.stop()) };
  }
  const tools = loadTools();
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "credmesh-nats-"));
  const process = new ManagedProcess("nats-server", tools.natsServer, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir]);
  await process.waitForLine(/Server is ready/);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    process,
    async stop() {
      await process.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface MotoPart {
  endpoint: string;
  process?: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * moto in server mode: Secrets Manager and STS over their real wire protocols. `port` starts it on
 * a given port — a moto that was killed coming back where its clients expect it (its state is in
 * memory and starts empty). `env` adds moto settings, e.g. `INITIAL_NO_AUTH_ACTION_COUNT` to make it
 * enforce IAM policies after that many requests.
 */
export async function startMoto(options: { port?: number; env?: Record<string, string> } = {}): Promise<MotoPart> {
  if (options.port === undefined && (await partsRuntime()) === "containers") {
    const { GenericContainer, Wait } = await import("testcontainers");
    const container = await new GenericContainer(IMAGES.moto)
      .withEnvironment(options.env ?? {})
      .withExposedPorts(5000)
      .withWaitStrategy(Wait.forHttp("/moto-api/", 5000))
      .start();
    return {
      endpoint: `http://${container.getHost()}:${container.getMappedPort(5000)}`,
      stop: async () => void (await container.stop()),
    };
  }
  const tools = loadTools();
  const port = options.port ?? (await freePort());
  const process = new ManagedProcess("moto", tools.motoServer, ["-H", "127.0.0.1", "-p", String(port)], options.env ? { env: { ...globalThis.process.env, ...options.env } } : {});
  const endpoint = `http://127.0.0.1:${port}`;
  await until("moto", () => httpOk(`${endpoint}/moto-api/`));
  return { endpoint, process, stop: () => process.stop() };
}

/**
 * Azure Key Vault and its managed-identity endpoint. Lowkey Vault's jar is not obtainable from
 * this machine's Maven Central, so the in-repo emulator (test/emulators/keyvault) stands in. It
 * behaves like the real service by default — a delete takes seconds to finish, a recovered secret
 * refuses writes for a while after it reads as present, list pages may be empty — so tests wait on
 * conditions, never on tuned delays.
 */
export async function startKeyVault(options: KeyVaultEmulatorOptions = {}): Promise<KeyVaultEmulator> {
  return startKeyVaultEmulator(options);
}
