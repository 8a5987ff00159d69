import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@credmesh/logging";

export type { NatsConnection } from "@nats-io/transport-node";

export interface BusConnectionConfig {
  servers: string[];
  /** Client name shown by `nats server report connections`. */
  name: string;
  /** Path of a NATS credentials file (JWT + nkey seed), for production accounts. */
  credsFile?: string;
}

/**
 * Connects to NATS and keeps reconnecting forever: a replicator or ingest without a bus is not
 * ready (see /readyz) but must come back by itself when the bus does.
 */
export async function connectBus(config: BusConnectionConfig, logger: Logger): Promise<NatsConnection> {
  const options: Parameters<typeof connect>[0] = {
    servers: config.servers,
    name: config.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
  };
  if (config.credsFile) {
    const { readFileSync } = await import("node:fs");
    const { credsAuthenticator } = await import("@nats-io/transport-node");
    options.authenticator = credsAuthenticator(readFileSync(config.credsFile));
  }
  const nc = await connect(options);
  logger.info({ server: nc.getServer() }, "connected to NATS");
  void watchStatus(nc, logger);
  return nc;
}

async function watchStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  for await (const status of nc.status()) {
    switch (status.type) {
      case "disconnect":
      case "reconnect":
      case "reconnecting":
        logger.warn({ nats: status.type }, "NATS connection status changed");
        break;
      case "error":
        logger.error({ nats: status.type }, "NATS connection error");
        break;
      default:
        logger.debug({ nats: status.type }, "NATS status");
    }
  }
}

/** True while the connection is usable for publishing. */
export function isConnected(nc: NatsConnection | undefined): boolean {
  return nc !== undefined && !nc.isClosed() && !nc.isDraining() && nc.getServer() !== "";
}
