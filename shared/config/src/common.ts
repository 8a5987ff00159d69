import { DEFAULT_PARTITIONS } from "@credmesh/bus-names";
import type { EnvReader } from "./env-reader.ts";

/** Settings every credmesh service reads the same way: logging and the bus. */
export interface BaseConfig {
  logLevel: "trace" | "debug" | "info" | "warn" | "error";
  natsServers: string[];
  natsCredsFile: string | undefined;
  /** Partitions per destination; must be the same in every service of a deployment. */
  partitions: number;
  streamReplicas: number;
  duplicateWindowMs: number;
}

/** The base settings plus the replication rules file, which ingest and the replicators read. */
export interface CommonConfig extends BaseConfig {
  rulesFile: string;
}

/** Logging and bus settings (every service, the identity-watcher included). */
export function readBaseConfig(read: EnvReader): BaseConfig {
  return {
    logLevel: read.oneOf("CREDMESH_LOG_LEVEL", ["trace", "debug", "info", "warn", "error"] as const, "info"),
    natsServers: read.list("CREDMESH_NATS_URL", ["nats://127.0.0.1:4222"]),
    natsCredsFile: read.optionalString("CREDMESH_NATS_CREDS_FILE"),
    partitions: read.int("CREDMESH_PARTITIONS", { default: DEFAULT_PARTITIONS, min: 1, max: 256 }),
    streamReplicas: read.int("CREDMESH_STREAM_REPLICAS", { default: 1, min: 1, max: 5 }),
    duplicateWindowMs: read.int("CREDMESH_DUPLICATE_WINDOW_MS", { default: 600_000, min: 1_000, max: 86_400_000 }),
  };
}

/** The base settings and the rules file (ingest, replicators). */
export function readCommonConfig(read: EnvReader): CommonConfig {
  return { ...readBaseConfig(read), rulesFile: read.string("CREDMESH_RULES_FILE") };
}

/** The bus settings of a service, from its base configuration (shape of @credmesh/bus openBus). */
export function busSettings(config: BaseConfig, clientName: string) {
  return {
    servers: config.natsServers,
    name: clientName,
    credsFile: config.natsCredsFile,
    replicas: config.streamReplicas,
    duplicateWindowMs: config.duplicateWindowMs,
  };
}
