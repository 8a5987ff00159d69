import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { CliFailure } from "../failure.ts";

export interface CliConnectionSettings {
  servers: string[];
  credsFile: string | undefined;
  timeoutMs: number;
}

/**
 * One short-lived connection per command. Unlike the services (which reconnect forever), an
 * operator command fails fast: no reconnects, a bounded connect timeout, a clear message.
 */
export async function connectCli(settings: CliConnectionSettings): Promise<NatsConnection> {
  const options: Parameters<typeof connect>[0] = {
    servers: settings.servers,
    name: "credmesh-cli",
    reconnect: false,
    timeout: settings.timeoutMs,
  };
  if (settings.credsFile) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(settings.credsFile);
    } catch (error) {
      throw new CliFailure(`cannot read the NATS credentials file ${settings.credsFile} (${codeOf(error)})`);
    }
    options.authenticator = credsAuthenticator(creds);
  }
  try {
    return await connect(options);
  } catch (error) {
    throw new CliFailure(`cannot connect to NATS at ${settings.servers.map(redactUserInfo).join(", ")} (${codeOf(error)})`);
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
