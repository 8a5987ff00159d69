import { DEFAULT_PARTITIONS } from "@credmesh/bus-names";
import type { Sensitive } from "@credmesh/logging";
import type { EnvReader } from "./env-reader.ts";

/** The default bus: a local nats-server, reached over TLS like every other. */
export const DEFAULT_NATS_URL = "tls://127.0.0.1:4222";

/**
 * How a process proves its bus identity. credmesh's per-role identities are nkeys (the server
 * holds only public keys; each process a seed file); a JWT credentials file (operator mode) and a
 * user with a password are accepted too. `none` only where the server has no authorization.
 * @see ../../../README.md#security-model
 */
export type BusAuth =
  | { kind: "none" }
  | { kind: "nkey"; seedFile: string }
  | { kind: "creds"; file: string }
  | { kind: "user"; user: string; password: Sensitive<string> };

/** The bus settings every service and the CLI read the same way (README "Configuration reference"). */
export interface BusConfig {
  natsServers: string[];
  natsAuth: BusAuth;
  /**
   * TLS to the bus: the server's certificate is verified (system roots plus `caFile`) and must
   * name the host dialled. `undefined` only when plaintext was chosen explicitly
   * (`CREDMESH_NATS_PLAINTEXT=true`, local development).
   */
  natsTls: { caFile: string | undefined } | undefined;
  streamReplicas: number;
  duplicateWindowMs: number;
}

/** Settings every credmesh service reads the same way: logging, the bus, the partitions. */
export interface BaseConfig extends BusConfig {
  logLevel: LogLevel;
  /** Partitions per destination; must be the same in every service of a deployment. */
  partitions: number;
}

/** The base settings plus the replication rules file, which ingest and the replicators read. */
export interface CommonConfig extends BaseConfig {
  rulesFile: string;
}

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

export function readLogLevel(read: EnvReader): LogLevel {
  return read.oneOf("CREDMESH_LOG_LEVEL", ["trace", "debug", "info", "warn", "error"] as const, "info");
}

/**
 * The bus settings. TLS is the default and `tls://` the only scheme; `nats://` needs
 * `CREDMESH_NATS_PLAINTEXT=true`, which exists for local development only. At most one way to
 * authenticate may be set.
 */
export function readBusConfig(read: EnvReader): BusConfig {
  const plaintext = read.bool("CREDMESH_NATS_PLAINTEXT", false);
  const natsServers = read.list("CREDMESH_NATS_URL", [plaintext ? DEFAULT_NATS_URL.replace("tls:", "nats:") : DEFAULT_NATS_URL]);
  const wanted = plaintext ? "nats:" : "tls:";
  for (const server of natsServers) {
    const scheme = /^([a-z]+):\/\//.exec(server)?.[1];
    // A URL may carry user:password@; never echo that part.
    const shown = server.replace(/^([^:/?#]*:\/\/)[^/?#]*@/, "$1[REDACTED]@");
    if (`${scheme}:` !== wanted) {
      read.problem(
        plaintext
          ? `CREDMESH_NATS_URL="${shown}" must use nats:// when CREDMESH_NATS_PLAINTEXT=true (or drop CREDMESH_NATS_PLAINTEXT to use TLS)`
          : `CREDMESH_NATS_URL="${shown}" must use tls:// (the bus is reached over TLS; CREDMESH_NATS_PLAINTEXT=true allows nats:// for local development)`,
      );
    }
  }
  const caFile = read.optionalString("CREDMESH_NATS_CA_FILE");
  if (plaintext && caFile !== undefined) read.problem("CREDMESH_NATS_CA_FILE is set but CREDMESH_NATS_PLAINTEXT=true turns TLS off");
  return {
    natsServers,
    natsAuth: readBusAuth(read),
    natsTls: plaintext ? undefined : { caFile },
    streamReplicas: read.int("CREDMESH_STREAM_REPLICAS", { default: 1, min: 1, max: 5 }),
    duplicateWindowMs: read.int("CREDMESH_DUPLICATE_WINDOW_MS", { default: 600_000, min: 1_000, max: 86_400_000 }),
  };
}

function readBusAuth(read: EnvReader): BusAuth {
  const seedFile = read.optionalString("CREDMESH_NATS_NKEY_SEED_FILE");
  const credsFile = read.optionalString("CREDMESH_NATS_CREDS_FILE");
  const user = read.optionalString("CREDMESH_NATS_USER");
  const password = read.secret("CREDMESH_NATS_PASSWORD", { required: user !== undefined });
  if (password !== undefined && user === undefined) read.problem("CREDMESH_NATS_PASSWORD is set without CREDMESH_NATS_USER");
  const chosen = [seedFile && "CREDMESH_NATS_NKEY_SEED_FILE", credsFile && "CREDMESH_NATS_CREDS_FILE", user && "CREDMESH_NATS_USER"].filter((name) => typeof name === "string");
  if (chosen.length > 1) read.problem(`${chosen.join(" and ")} are both set: choose one way to authenticate to the bus`);
  if (seedFile !== undefined) return { kind: "nkey", seedFile };
  if (credsFile !== undefined) return { kind: "creds", file: credsFile };
  if (user !== undefined && password !== undefined) return { kind: "user", user, password };
  return { kind: "none" };
}

/** Logging, bus and partition settings (every service, the identity-watcher included). */
export function readBaseConfig(read: EnvReader): BaseConfig {
  return {
    logLevel: readLogLevel(read),
    ...readBusConfig(read),
    partitions: read.int("CREDMESH_PARTITIONS", { default: DEFAULT_PARTITIONS, min: 1, max: 256 }),
  };
}

/** The base settings and the rules file (ingest, replicators). */
export function readCommonConfig(read: EnvReader): CommonConfig {
  return { ...readBaseConfig(read), rulesFile: read.string("CREDMESH_RULES_FILE") };
}

/**
 * The bus settings of a service (shape of @credmesh/bus openBus). `inboxPrefix` is the service's
 * role's own reply subject space (@credmesh/bus-roles), so no other identity can read its replies.
 */
export function busSettings(config: BusConfig, clientName: string, inboxPrefix?: string) {
  return {
    servers: config.natsServers,
    name: clientName,
    auth: config.natsAuth,
    tls: config.natsTls,
    ...(inboxPrefix === undefined ? {} : { inboxPrefix }),
    replicas: config.streamReplicas,
    duplicateWindowMs: config.duplicateWindowMs,
  };
}
