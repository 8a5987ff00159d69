import { ConfigError, EnvReader, readBusConfig, type BusConfig } from "@credmesh/config";
import { DEFAULT_PARTITIONS } from "@credmesh/bus-names";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { TimeoutError, type NatsConnection } from "@nats-io/transport-node";
import { UsageError, parseInvocation, type Command, type Invocation } from "./args.ts";
import { connectCli } from "./bus/connection.ts";
import { busCredentials } from "./commands/bus-credentials.ts";
import { dlqList } from "./commands/dlq-list.ts";
import { dlqReplay } from "./commands/dlq-replay.ts";
import { reconcile } from "./commands/reconcile.ts";
import { provision } from "./commands/provision.ts";
import { quarantine } from "./commands/quarantine.ts";
import { status } from "./commands/status.ts";
import { up } from "./commands/up.ts";
import type { CommandContext } from "./commands/context.ts";
import { CliFailure } from "./failure.ts";
import type { Io } from "./output.ts";
import { helpText } from "./usage.ts";

/** A reconcile lists every source in scope; the other commands only talk to JetStream. */
const DEFAULT_TIMEOUT_MS = { reconcile: 120_000, other: 10_000 } as const;
const MAX_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Runs one `credmesh <command>` and returns the exit status: 0 ok, 1 failure, 2 usage or
 * configuration error. The bus settings are the services' (README "Configuration reference":
 * CREDMESH_NATS_URL, _CA_FILE, _NKEY_SEED_FILE, _CREDS_FILE, _PLAINTEXT, CREDMESH_PARTITIONS);
 * flags win over the environment.
 * @see ../../../shared/SPEC.md section 2 (CLI credmesh)
 */
export async function runCli(argv: readonly string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<0 | 1 | 2> {
  let invocation;
  try {
    invocation = parseInvocation(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`credmesh: ${error.message}`);
    io.err(`Run "credmesh ${error.topic ? `${error.topic} ` : ""}--help" for usage.`);
    return 2;
  }
  const { command } = invocation;
  if (command.name === "help") {
    io.out(helpText(command.topic));
    return 0;
  }
  if (command.name === "bus-credentials") {
    // Writes files only; no bus involved.
    try {
      return busCredentials(io, invocation.json, command, env);
    } catch (error) {
      io.err(`credmesh: ${describeFailure(error, 0)}`);
      return 1;
    }
  }
  if (command.name === "up") {
    try {
      return await up(command, io, env);
    } catch (error) {
      io.err(`credmesh up: ${describeFailure(error, 0)}`);
      return 1;
    }
  }

  const read = new EnvReader(withFlags(env, invocation));
  const bus = readBusConfig(read);
  const partitions = read.int("CREDMESH_PARTITIONS", { default: DEFAULT_PARTITIONS, min: 1, max: 256 });
  try {
    read.done();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.err(`credmesh: ${error.message}`);
    return 2;
  }
  const timeoutMs = invocation.timeoutMs ?? (command.name === "reconcile" ? DEFAULT_TIMEOUT_MS.reconcile : DEFAULT_TIMEOUT_MS.other);

  let nc: NatsConnection | undefined;
  try {
    nc = await connectCli({ bus, timeoutMs: Math.min(timeoutMs, MAX_CONNECT_TIMEOUT_MS) });
    return await dispatch({ nc, io, json: invocation.json, timeoutMs, partitions }, command, env, bus);
  } catch (error) {
    io.err(`credmesh: ${describeFailure(error, timeoutMs)}`);
    return 1;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

/** The environment with the connection flags in it: a flag's way to authenticate replaces the environment's. */
function withFlags(env: NodeJS.ProcessEnv, invocation: Invocation): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...env };
  if (invocation.servers) merged["CREDMESH_NATS_URL"] = invocation.servers.join(",");
  if (invocation.caFile) merged["CREDMESH_NATS_CA_FILE"] = invocation.caFile;
  const auth = invocation.credsFile ? { CREDMESH_NATS_CREDS_FILE: invocation.credsFile } : invocation.nkeyFile ? { CREDMESH_NATS_NKEY_SEED_FILE: invocation.nkeyFile } : undefined;
  if (auth) {
    for (const name of ["CREDMESH_NATS_CREDS_FILE", "CREDMESH_NATS_NKEY_SEED_FILE", "CREDMESH_NATS_USER", "CREDMESH_NATS_PASSWORD", "CREDMESH_NATS_PASSWORD_FILE"]) delete merged[name];
    Object.assign(merged, auth);
  }
  return merged;
}

function dispatch(ctx: CommandContext, command: Exclude<Command, { name: "help" | "bus-credentials" | "up" }>, env: NodeJS.ProcessEnv, bus: BusConfig): Promise<0 | 1> {
  switch (command.name) {
    case "provision":
      return provision(ctx, { dryRun: command.dryRun, streamReplicas: bus.streamReplicas, duplicateWindowMs: bus.duplicateWindowMs });
    case "quarantine":
    case "release":
      return quarantine(ctx, command, env);
    case "dlq list":
      return dlqList(ctx, command);
    case "dlq replay":
      return dlqReplay(ctx, command);
    case "reconcile":
      return reconcile(ctx, command);
    case "status":
      return status(ctx, command);
  }
}

/** One line an operator can act on; built from error types and codes, never from payloads. */
export function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof CliFailure) return error.message;
  if (error instanceof JetStreamApiError) {
    if (error.code === JetStreamApiCodes.StreamNotFound) {
      return "a credmesh stream does not exist on this bus: start ingest or a replicator once (they create the streams), or check --server";
    }
    return `JetStream refused the request: ${error.message} (error code ${error.code})`;
  }
  if (error instanceof TimeoutError || (error instanceof Error && error.cause instanceof TimeoutError)) {
    return `the bus did not answer within ${timeoutMs / 1000} s (--timeout to wait longer)`;
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${typeof code === "string" ? ` (${code})` : ""}: ${error.message}`;
  }
  return "unexpected failure";
}
