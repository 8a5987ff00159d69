import type { ReasonCode } from "@credmesh/errors";
import type { BreakerState } from "./backend-guard.ts";
import type { BackendRole } from "./read.ts";

/**
 * What the client tells the application's logger (and `onEvent`): names, clouds, versions and
 * reasons — never a value.
 */
export type ClientEvent =
  | { type: "failover"; name: string; from: "aws" | "azure"; to: "aws" | "azure"; reason: ReasonCode; code?: string | undefined }
  | { type: "breaker"; role: BackendRole; cloud: "aws" | "azure"; state: BreakerState }
  | { type: "refresh"; name: string; outcome: "unchanged" | "changed"; role: BackendRole; versionId: string }
  | { type: "refresh_failed"; name: string; reason: ReasonCode; code?: string | undefined }
  | { type: "stale_served"; name: string; ageMs: number; reason: ReasonCode }
  | { type: "read_failed"; name: string; reason: ReasonCode; code?: string | undefined; fallbackAsked: boolean }
  | { type: "not_replicated"; name: string };

/** A pino-compatible logger (`logger.warn(fields, message)`); pino's own instance fits. */
export interface ClientLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

const WARN: ReadonlySet<ClientEvent["type"]> = new Set(["failover", "refresh_failed", "stale_served", "read_failed", "not_replicated"]);

const MESSAGES: Record<ClientEvent["type"], string> = {
  failover: "secret read from the fallback: the primary is unavailable",
  breaker: "circuit breaker state changed",
  refresh: "cached secret refreshed",
  refresh_failed: "cached secret could not be refreshed",
  stale_served: "stale secret served: no backend could confirm it",
  read_failed: "secret read failed",
  not_replicated: "no rule replicates this secret to the fallback: it cannot fail over",
};

export function logEvent(logger: ClientLogger, event: ClientEvent): void {
  const fields = { credmeshClient: event };
  const warn = WARN.has(event.type) || (event.type === "breaker" && event.state === "open");
  if (warn) logger.warn(fields, MESSAGES[event.type]);
  else logger.info(fields, MESSAGES[event.type]);
}
