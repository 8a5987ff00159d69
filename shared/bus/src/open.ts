import type { Logger } from "@credmesh/logging";
import { connectBus, type BusConnectionConfig, type NatsConnection } from "./connection.ts";
import { DEFAULT_STREAM_SETTINGS, ensureStreams, type StreamSettings } from "./provisioning.ts";

export interface BusSettings {
  servers: string[];
  name: string;
  credsFile?: string | undefined;
  replicas: number;
  duplicateWindowMs: number;
  maxAgeMs?: number;
}

/**
 * What every service does at boot: connect (reconnecting forever afterwards) and make sure the
 * credmesh streams exist with our configuration.
 */
export async function openBus(settings: BusSettings, logger: Logger): Promise<NatsConnection> {
  const connection: BusConnectionConfig = {
    servers: settings.servers,
    name: settings.name,
    ...(settings.credsFile ? { credsFile: settings.credsFile } : {}),
  };
  const streams: StreamSettings = {
    replicas: settings.replicas,
    duplicateWindowMs: settings.duplicateWindowMs,
    maxAgeMs: settings.maxAgeMs ?? DEFAULT_STREAM_SETTINGS.maxAgeMs,
  };
  const nc = await connectBus(connection, logger);
  await ensureStreams(nc, streams);
  return nc;
}
