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
 * How fast a dead or frozen server is noticed. A server that stops answering (a paused process, a
 * half-open connection) keeps the TCP connection open, so only unanswered PINGs reveal it: every
 * 2 s, two outstanding, so the client moves to another cluster node within about 6 s — about as
 * long as a stream leader election — instead of the client library's default 4 minutes. A dial to
 * a node that accepts but never answers is abandoned after 2 s for the next node.
 */
const PING_INTERVAL_MS = 2_000;
const MAX_PINGS_OUT = 2;
const DIAL_TIMEOUT_MS = 2_000;

/**
 * Connects to NATS and keeps reconnecting forever: a replicator or ingest without a bus is not
 * ready (see /readyz) but must come back by itself when the bus does. With several servers (a
 * cluster), it moves to another node when its node dies or freezes.
 */
export async function connectBus(config: BusConnectionConfig, logger: Logger): Promise<NatsConnection> {
  const options: Parameters<typeof connect>[0] = {
    servers: config.servers,
    name: config.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: PING_INTERVAL_MS,
    maxPingOut: MAX_PINGS_OUT,
    timeout: DIAL_TIMEOUT_MS,
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

/** False once the connection is closed or draining (it may still be reconnecting). */
export function isConnected(nc: NatsConnection | undefined): boolean {
  return nc !== undefined && !nc.isClosed() && !nc.isDraining() && nc.getServer() !== "";
}

/** Upper bound on the readiness round trip, well inside a probe's timeout. */
const PING_TIMEOUT_MS = 1_000;

/**
 * Whether the bus answers right now. The client keeps the last server's address while it
 * reconnects, so a PING round trip decides; nats.js refuses it at once while disconnected, so a
 * readiness probe gets its answer in milliseconds during an outage.
 */
export async function busReachable(nc: NatsConnection | undefined): Promise<boolean> {
  if (!nc || !isConnected(nc)) return false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([nc.rtt().then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
