import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, nkeyAuthenticator, usernamePasswordAuthenticator, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
import { CredmeshError } from "@credmesh/errors";
import type { Logger, Sensitive } from "@credmesh/logging";

export type { NatsConnection } from "@nats-io/transport-node";

/** How the connection authenticates (the shape @credmesh/config's bus settings produce). */
export type BusAuthentication =
  | { kind: "none" }
  | { kind: "nkey"; seedFile: string }
  | { kind: "creds"; file: string }
  | { kind: "user"; user: string; password: Sensitive<string> };

export interface BusConnectionConfig {
  servers: string[];
  /** Client name shown by `nats server report connections`. */
  name: string;
  auth?: BusAuthentication | undefined;
  /**
   * TLS: required, the server's certificate verified against the system roots plus `caFile`,
   * its name checked against the host dialled. `undefined` is plaintext (local development only).
   */
  tls?: { caFile?: string | undefined } | undefined;
  /** Where replies to this connection's requests arrive: its role's own subject space. */
  inboxPrefix?: string | undefined;
}

/** The connect() options for a bus configuration: authentication, TLS and the inbox prefix. */
export function connectionOptions(config: Omit<BusConnectionConfig, "name">): NodeConnectionOptions {
  const options: NodeConnectionOptions = { servers: config.servers };
  const auth = config.auth ?? { kind: "none" };
  switch (auth.kind) {
    case "none":
      break;
    case "nkey":
      // Read at every (re)connect: a rotated seed file takes effect without a restart.
      options.authenticator = nkeyAuthenticator(() => new TextEncoder().encode(readSecretFile(auth.seedFile, "NATS nkey seed").trim()));
      break;
    case "creds":
      options.authenticator = credsAuthenticator(() => new TextEncoder().encode(readSecretFile(auth.file, "NATS credentials")));
      break;
    case "user":
      options.authenticator = usernamePasswordAuthenticator(auth.user, () => auth.password.reveal());
      break;
  }
  if (config.tls) {
    // An object (even empty) makes TLS mandatory: nats.js refuses a server without it. Node
    // verifies the chain and the host name; there is no option here to turn either off.
    options.tls = config.tls.caFile ? { caFile: config.tls.caFile } : {};
  }
  if (config.inboxPrefix) options.inboxPrefix = config.inboxPrefix;
  return options;
}

/** A credential file's content; a failure names the file, never its content. */
function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new CredmeshError("configuration", `the ${what} file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`, { cause: error });
  }
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
  const nc = await connect({
    ...connectionOptions(config),
    name: config.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: PING_INTERVAL_MS,
    maxPingOut: MAX_PINGS_OUT,
    timeout: DIAL_TIMEOUT_MS,
    // nats.js captures a stack trace for every request and timer (two Error objects per publish)
    // to decorate errors that credmesh never logs with stacks (logging's serializeError drops
    // them): a measurable share of ingest's CPU per webhook, for nothing.
    noAsyncTraces: true,
  });
  logger.info({ server: nc.getServer(), tls: config.tls !== undefined, auth: config.auth?.kind ?? "none" }, "connected to NATS");
  if (!config.tls) logger.warn("the bus connection is plaintext (CREDMESH_NATS_PLAINTEXT): local development only");
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
