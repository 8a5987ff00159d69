import { retryDelayMs, sleep } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import { connectBus, type BusConnectionConfig, type NatsConnection } from "./connection.ts";
import { DEFAULT_STREAM_SETTINGS, ensureStreams, type StreamSettings } from "./provisioning.ts";
import { isTransientBusFailure } from "./transient.ts";

/**
 * How long boot keeps trying to provision the streams while JetStream cannot answer (a cluster
 * still electing its meta leader, a stream leader being elected, a node under load): past it the
 * service fails to start, with the last error, and its orchestrator restarts it.
 */
const PROVISION_WINDOW_MS = 30_000;

export interface BusSettings extends BusConnectionConfig {
  replicas: number;
  duplicateWindowMs: number;
  maxAgeMs?: number;
}

/**
 * What every service does at boot: connect (reconnecting forever afterwards) and make sure the
 * credmesh streams exist: created when missing, never changed (see {@link ensureStreams}).
 */
export async function openBus(settings: BusSettings, logger: Logger): Promise<NatsConnection> {
  const connection: BusConnectionConfig = {
    servers: settings.servers,
    name: settings.name,
    auth: settings.auth,
    tls: settings.tls,
    inboxPrefix: settings.inboxPrefix,
  };
  const streams: StreamSettings = {
    replicas: settings.replicas,
    duplicateWindowMs: settings.duplicateWindowMs,
    maxAgeMs: settings.maxAgeMs ?? DEFAULT_STREAM_SETTINGS.maxAgeMs,
  };
  const nc = await connectBus(connection, logger);
  try {
    await whileBusSettles(() => ensureStreams(nc, streams, { logger }), "streams", logger);
  } catch (error) {
    await nc.close().catch(() => undefined);
    throw error;
  }
  return nc;
}

/**
 * Runs a boot step that talks to JetStream (creating streams, consumers, KV buckets), trying it
 * again while the failure is transient — a cluster still electing its meta leader or a stream's
 * leader, nodes slow under load — for up to {@link PROVISION_WINDOW_MS}; then (or at once for a
 * refusal that would repeat) it throws, and the service fails to start with that error.
 */
export async function whileBusSettles<T>(step: () => Promise<T>, what: string, logger: Logger): Promise<T> {
  const windowEnds = Date.now() + PROVISION_WINDOW_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      const delay = retryDelayMs(attempt, { baseMs: 250, maxMs: 2_000 });
      if (!isTransientBusFailure(error) || Date.now() + delay > windowEnds) throw error;
      logger.warn({ err: error, attempt }, `${what} cannot be provisioned yet; trying again`);
      await sleep(delay);
    }
  }
}
