import type { Logger } from "@credmesh/logging";
import { connectBus, type BusConnectionConfig, type NatsConnection } from "./connection.ts";
import { DEFAULT_STREAM_SETTINGS, ensureStreams, type StreamSettings } from "./provisioning.ts";

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
  await ensureStreams(nc, streams, { logger });
  return nc;
}
