import { ConfigError, EnvReader } from "@credmesh/config";
import { DEFAULT_PARTITIONS } from "@credmesh/bus-names";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { TimeoutError, type NatsConnection } from "@nats-io/transport-node";
import { UsageError, parseInvocation, type Command } from "./args.ts";
import { connectCli } from "./bus/connection.ts";
import { dlqList } from "./commands/dlq-list.ts";
import { dlqReplay } from "./commands/dlq-replay.ts";
import { reconcile } from "./commands/reconcile.ts";
import { quarantine } from "./commands/quarantine.ts";
import { status } from "./commands/status.ts";
import { up } from "./commands/up.ts";
import type { CommandContext } from "./commands/context.ts";
import { CliFailure } from "./failure.ts";
import type { Io } from "./output.ts";
import { helpText } from "./usage.ts";

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";
/** A reconcile lists every source in scope; the other commands only talk to JetStream. */
const DEFAULT_TIMEOUT_MS = { reconcile: 120_000, other: 10_000 } as const;
const MAX_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Runs one `credmesh <command>` and returns the exit status: 0 ok, 1 failure, 2 usage or
 * configuration error. Flags win over the environment (CREDMESH_NATS_URL,
 * CREDMESH_NATS_CREDS_FILE, CREDMESH_PARTITIONS), as for the services.
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
  if (command.name === "up") {
    try {
      return await up(command, io, env);
    } catch (error) {
      io.err(`credmesh up: ${describeFailure(error, 0)}`);
      return 1;
    }
  }

  const read = new EnvReader(env);
  const servers = invocation.servers ?? read.list("CREDMESH_NATS_URL", [DEFAULT_NATS_URL]);
  const credsFile = invocation.credsFile ?? read.optionalString("CREDMESH_NATS_CREDS_FILE");
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
    nc = await connectCli({ servers, credsFile, timeoutMs: Math.min(timeoutMs, MAX_CONNECT_TIMEOUT_MS) });
    return await dispatch({ nc, io, json: invocation.json, timeoutMs, partitions }, command, env);
  } catch (error) {
    io.err(`credmesh: ${describeFailure(error, timeoutMs)}`);
    return 1;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

function dispatch(ctx: CommandContext, command: Exclude<Command, { name: "help" | "up" }>, env: NodeJS.ProcessEnv): Promise<0 | 1> {
  switch (command.name) {
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
