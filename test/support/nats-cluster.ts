import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { startNatsCluster as startCluster, type NatsCluster, type NatsClusterOptions } from "@credmesh/local-mesh";
import { loadTools } from "./tools.ts";

export type { ClusterNode, NatsCluster, NatsClusterOptions } from "@credmesh/local-mesh";

/** A 3-node JetStream cluster on loopback (@credmesh/local-mesh, as `credmesh up --cluster` runs it), with the provisioned nats-server. */
export function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  return startCluster(loadTools().natsServer, options);
}

/**
 * The `server_name` of a stream's (or KV bucket's stream, `KV_<bucket>`) leader, as stream info
 * reports it through `nc`; undefined while it has none (an election) or the request fails.
 */
export async function streamLeader(nc: NatsConnection, stream: string, timeoutMs = 1_000): Promise<string | undefined> {
  try {
    const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
    return (await jsm.streams.info(stream)).cluster?.leader || undefined;
  } catch {
    return undefined;
  }
}
