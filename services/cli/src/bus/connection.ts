import { readFileSync } from "node:fs";
import { connectionOptions } from "@credmesh/bus";
import { inboxPrefixOf } from "@credmesh/bus-roles";
import type { BusConfig } from "@credmesh/config";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { CliFailure } from "../failure.ts";

export interface CliConnectionSettings {
  bus: Pick<BusConfig, "natsServers" | "natsAuth" | "natsTls">;
  timeoutMs: number;
}

/**
 * One short-lived connection per command. Unlike the services (which reconnect forever), an
 * operator command fails fast: no reconnects, a bounded connect timeout, a clear message. It
 * connects as the operator role (its replies arrive in the operator's inbox), over TLS unless
 * plaintext was chosen explicitly.
 */
export async function connectCli(settings: CliConnectionSettings): Promise<NatsConnection> {
  const { natsServers: servers, natsAuth: auth, natsTls: tls } = settings.bus;
  if (auth.kind === "creds") readable(auth.file, "NATS credentials file");
  if (auth.kind === "nkey") readable(auth.seedFile, "NATS nkey seed file");
  if (tls?.caFile) readable(tls.caFile, "NATS CA file");
  try {
    return await connect({
      ...connectionOptions({ servers, auth, tls, inboxPrefix: inboxPrefixOf({ kind: "operator" }) }),
      name: "credmesh-cli",
      reconnect: false,
      timeout: settings.timeoutMs,
    });
  } catch (error) {
    throw new CliFailure(`cannot connect to NATS at ${servers.map(redactUserInfo).join(", ")} (${codeOf(error)})`);
  }
}

/** Fails before connecting when a file the connection needs cannot be read (named, never shown). */
function readable(path: string, what: string): void {
  try {
    readFileSync(path);
  } catch (error) {
    throw new CliFailure(`cannot read the ${what} ${path} (${codeOf(error)})`);
  }
}

/** A server URL may embed `user:password@`; never print that part. */
export function redactUserInfo(server: string): string {
  return server.replace(/^([^:/?#]*:\/\/)?[^/?#@]*@/, (_match, scheme: string | undefined) => `${scheme ?? ""}[REDACTED]@`);
}

/** A short, value-free description of a connection error: its code or type, not its text. */
function codeOf(error: unknown): string {
  if (error && typeof error === "object") {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    const cause = (error as { cause?: unknown }).cause;
    if (cause && typeof cause === "object" && typeof (cause as { code?: unknown }).code === "string") return (cause as { code: string }).code;
    if (error instanceof Error) return error.name === "Error" ? error.message.slice(0, 120) : error.name;
  }
  return "unknown error";
}
