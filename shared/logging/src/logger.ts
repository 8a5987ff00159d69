import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";
import { REDACTED, REDACT_PATHS } from "./redaction.ts";

export type { Logger } from "pino";

export interface LoggerConfig {
  service: string;
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to capture lines. */
  destination?: DestinationStream;
}

/**
 * The structured logger of every credmesh process: JSON lines, the service name on each line,
 * redaction paths from {@link REDACT_PATHS}, and an error serializer that writes only the
 * secret-free fields of an error (never a cloud's message text or a response body).
 */
export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level: config.level ?? "info",
    base: { service: config.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    serializers: { err: serializeError, error: serializeError },
    formatters: { level: (label) => ({ level: label }) },
  };
  return config.destination ? pino(options, config.destination) : pino(options);
}

interface ErrorLike {
  name?: unknown;
  reason?: unknown;
  retryable?: unknown;
  code?: unknown;
  status?: unknown;
  message?: unknown;
}

/**
 * Our own errors (CredmeshError, recognised by shape to keep this package dependency-free) are
 * written with their message, which credmesh composes from identifiers only. Foreign errors get
 * their type and code but not their message: SDK messages can embed request or response text.
 */
export function serializeError(error: unknown): Record<string, unknown> {
  if (typeof error !== "object" || error === null) return { type: typeof error };
  const e = error as ErrorLike;
  const ours = e.name === "CredmeshError";
  return {
    type: typeof e.name === "string" ? e.name : "Error",
    ...(ours && typeof e.message === "string" ? { message: e.message } : {}),
    ...(typeof e.reason === "string" ? { reason: e.reason } : {}),
    ...(typeof e.retryable === "boolean" ? { retryable: e.retryable } : {}),
    ...(typeof e.code === "string" ? { code: e.code } : {}),
    ...(typeof e.status === "number" ? { status: e.status } : {}),
  };
}
