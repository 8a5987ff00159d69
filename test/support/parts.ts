import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BusDeployment } from "@credmesh/bus-roles";
import { loadTools, natsServerConfig, startMotoServer, startNatsServer, type ManagedProcess } from "@credmesh/local-mesh";
import { startKeyVaultEmulator, type KeyVaultEmulator, type KeyVaultEmulatorOptions } from "../emulators/keyvault/index.ts";
import { busAccess, createBusSecurity, natsServerSecurity, type BusAccess } from "./bus-security.ts";
import { IMAGES, partsRuntime } from "./container-runtime.ts";

/**
 * The real parts: testcontainers when a Docker engine exists, otherwise local processes on free
 * loopback ports (this machine kind has no engine), started by the same code as `credmesh up`
 * (@credmesh/local-mesh). Each start function returns what a client needs and a stop(); `process`
 * is set in process mode only.
 */
export interface NatsPart extends BusAccess {
  port: number;
  process?: ManagedProcess;
  stop(): Promise<void>;
}

export interface NatsOptions {
  /**
   * The deployment the identities are made for (partitions, replicator cells); default: 16
   * partitions, no replicator. Ignored with `plaintext`.
   */
  deployment?: BusDeployment;
  /**
   * Opt out of TLS and authorization. Only for tests that need a bare bus: the bench compares
   * ingest with a bare publisher on the same plaintext connection.
   */
  plaintext?: boolean;
}

/**
 * nats-server with JetStream, by default as production runs it: TLS (a throw-away CA, hostname
 * verification on) and one nkey identity per role with least-privilege permissions
 * (@credmesh/bus-roles; see bus-security.ts).
 */
export async function startNats(options: NatsOptions = {}): Promise<NatsPart> {
  const dir = await mkdtemp(join(tmpdir(), "credmesh-nats-"));
  const security = options.plaintext ? undefined : await createBusSecurity(dir, options.deployment);
  const scheme = security ? "tls" : "nats";
  const part = (url: string, port: number, stop: () => Promise<void>, process?: ManagedProcess): NatsPart => ({
    ...busAccess(url, security),
    port,
    ...(process ? { process } : {}),
    async stop() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  });
  if ((await partsRuntime()) === "containers") {
    const { GenericContainer, Wait } = await import("testcontainers");
    const files = security ? [security.serverCertFile, security.serverKeyFile] : [];
    const config = natsServerConfig({
      host: "0.0.0.0",
      port: 4222,
      storeDir: "/data",
      security: await natsServerSecurity(security && { ...security, serverCertFile: "/etc/nats/server.crt", serverKeyFile: "/etc/nats/server.key" }),
    });
    const container = await new GenericContainer(IMAGES.nats)
      .withCopyContentToContainer([{ content: config, target: "/etc/nats/nats.conf" }])
      .withCopyFilesToContainer(files.map((source, index) => ({ source, target: ["/etc/nats/server.crt", "/etc/nats/server.key"][index] ?? "" })))
      .withCommand(["-c", "/etc/nats/nats.conf"])
      .withExposedPorts(4222)
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .start();
    const port = container.getMappedPort(4222);
    // The certificate names 127.0.0.1 and localhost: dial the mapped port there.
    return part(`${scheme}://127.0.0.1:${port}`, port, async () => void (await container.stop()));
  }
  const server = await startNatsServer(loadTools().natsServer, { security: await natsServerSecurity(security) });
  return part(server.url, server.port, () => server.stop(), server.process);
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
