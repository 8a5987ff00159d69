/**
 * What the emulator answered, request by request: the outside view of a client's cloud calls, so
 * tests can count calls and check how a client met each behaviour without trusting the client's
 * own metrics. Identifiers and codes only; never a body.
 */
import type { JsonResponse } from "./http.ts";

/** One answered request. */
export interface LoggedRequest {
  /** Epoch ms when the answer was sent. */
  readonly at: number;
  /** REST operation id (`SetSecret`, `GetSecretVersions`, …), `Unauthorized`, `UnknownRoute` or `MethodNotAllowed`. */
  readonly operation: string;
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  readonly status: number;
  /** `error.innererror.code`, else `error.code`, of an error answer. */
  readonly code?: string;
  /** The `Retry-After` header sent, if any. */
  readonly retryAfter?: string;
  /** For list operations: how many items the page held and whether it carried a `nextLink`. */
  readonly page?: { readonly items: number; readonly nextLink: boolean };
}

/** Keeps the most recent requests (a bounded ring, so a long-running `credmesh up` stays small). */
export class RequestLog {
  readonly #entries: LoggedRequest[] = [];
  readonly #capacity: number;

  constructor(capacity = 100_000) {
    this.#capacity = capacity;
  }

  record(operation: string, method: string, path: string, response: JsonResponse): void {
    const code = errorCodeOf(response.body);
    const page = pageOf(response.body);
    const retryAfter = response.headers?.["retry-after"];
    this.#entries.push({
      at: Date.now(),
      operation,
      method,
      path,
      status: response.status,
      ...(code === undefined ? {} : { code }),
      ...(retryAfter === undefined ? {} : { retryAfter }),
      ...(page === undefined ? {} : { page }),
    });
    if (this.#entries.length > this.#capacity) this.#entries.splice(0, this.#entries.length - this.#capacity);
  }

  list(): readonly LoggedRequest[] {
    return [...this.#entries];
  }
}

function errorCodeOf(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const error = (body as { error?: { code?: unknown; innererror?: { code?: unknown } } }).error;
  const inner = error?.innererror?.code;
  if (typeof inner === "string") return inner;
  return typeof error?.code === "string" ? error.code : undefined;
}

function pageOf(body: unknown): LoggedRequest["page"] {
  if (typeof body !== "object" || body === null || !("value" in body) || !("nextLink" in body)) return undefined;
  const { value, nextLink } = body;
  return Array.isArray(value) ? { items: value.length, nextLink: typeof nextLink === "string" } : undefined;
}
