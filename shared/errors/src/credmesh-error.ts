import { REASONS, type ReasonCode } from "./reasons.ts";

export interface CredmeshErrorOptions {
  /** The underlying error. Never serialised into logs or dead letters as text. */
  cause?: unknown;
  /** Server-requested wait before a retry, in milliseconds. */
  retryAfterMs?: number;
  /** The cloud's own error code (e.g. ThrottlingException, ObjectIsDeletedButRecoverable). */
  code?: string;
  /** HTTP status of the failed call, when there was one. */
  status?: number;
}

/**
 * The one error type credmesh raises across package boundaries. Its message is written by
 * credmesh from identifiers and codes only, so it is safe to log and to dead-letter; the cloud's
 * own message text stays in `cause`, which is never serialised.
 */
export class CredmeshError extends Error {
  readonly reason: ReasonCode;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly code: string | undefined;
  readonly status: number | undefined;

  constructor(reason: ReasonCode, message: string, options: CredmeshErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CredmeshError";
    this.reason = reason;
    this.retryable = REASONS[reason].retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.code = options.code;
    this.status = options.status;
  }

  /** A plain, secret-free description for logs, dead letters and audit records. */
  toRecord(): ErrorRecord {
    return {
      reason: this.reason,
      retryable: this.retryable,
      message: this.message,
      ...(this.code === undefined ? {} : { code: this.code }),
      ...(this.status === undefined ? {} : { status: this.status }),
    };
  }
}

export interface ErrorRecord {
  reason: ReasonCode;
  retryable: boolean;
  message: string;
  code?: string;
  status?: number;
}

export function isCredmeshError(error: unknown): error is CredmeshError {
  return error instanceof CredmeshError;
}

/**
 * Turns anything thrown into a CredmeshError. Unknown errors become `internal` (permanent) with
 * only their type name in the message: their text may carry data we do not control.
 */
export function toCredmeshError(error: unknown): CredmeshError {
  if (error instanceof CredmeshError) return error;
  const type = error instanceof Error ? error.name : typeof error;
  return new CredmeshError("internal", `unexpected ${type}`, { cause: error });
}
