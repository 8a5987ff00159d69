import { loadTools, startMotoServer, startNatsServer, type ManagedProcess } from "@credmesh/local-mesh";
import { startKeyVaultEmulator, type KeyVaultEmulator, type KeyVaultEmulatorOptions } from "../emulators/keyvault/index.ts";
import { IMAGES, partsRuntime } from "./container-runtime.ts";

/**
 * The real parts: testcontainers when a Docker engine exists, otherwise local processes on free
 * loopback ports (this machine kind has no engine), started by the same code as `credmesh up`
 * (@credmesh/local-mesh). Each start function returns what a client needs and a stop(); `process`
 * is set in process mode only.
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
  const { url, port, process, stop } = await startNatsServer(loadTools().natsServer);
  return { url, port, process, stop };
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
  const { endpoint, process, stop } = await startMotoServer(loadTools().motoServer, options);
  return { endpoint, process, stop };
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
