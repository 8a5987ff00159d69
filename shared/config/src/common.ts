import { DEFAULT_PARTITIONS } from "@credmesh/bus-names";
import type { EnvReader } from "./env-reader.ts";

/** Settings every credmesh service reads the same way: logging, the bus, the rules file. */
export interface CommonConfig {
  logLevel: "trace" | "debug" | "info" | "warn" | "error";
  natsServers: string[];
  natsCredsFile: string | undefined;
  rulesFile: string;
  /** Partitions per destination; must be the same in every service of a deployment. */
  partitions: number;
  streamReplicas: number;
  duplicateWindowMs: number;
}

export function readCommonConfig(read: EnvReader): CommonConfig {
  return {
    logLevel: read.oneOf("CREDMESH_LOG_LEVEL", ["trace", "debug", "info", "warn", "error"] as const, "info"),
    natsServers: read.list("CREDMESH_NATS_URL", ["nats://127.0.0.1:4222"]),
    natsCredsFile: read.optionalString("CREDMESH_NATS_CREDS_FILE"),
    rulesFile: read.string("CREDMESH_RULES_FILE"),
    partitions: read.int("CREDMESH_PARTITIONS", { default: DEFAULT_PARTITIONS, min: 1, max: 256 }),
    streamReplicas: read.int("CREDMESH_STREAM_REPLICAS", { default: 1, min: 1, max: 5 }),
    duplicateWindowMs: read.int("CREDMESH_DUPLICATE_WINDOW_MS", { default: 600_000, min: 1_000, max: 86_400_000 }),
  };
}

/** The bus settings of a service, from its common configuration (shape of @credmesh/bus openBus). */
export function busSettings(config: CommonConfig, clientName: string) {
  return {
    servers: config.natsServers,
    name: clientName,
    credsFile: config.natsCredsFile,
    replicas: config.streamReplicas,
    duplicateWindowMs: config.duplicateWindowMs,
  };
}
