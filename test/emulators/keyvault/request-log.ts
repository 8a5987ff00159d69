/**
 * Every request the emulator served — vault data plane, IMDS, Entra, Microsoft Graph — as the
 * outside view of a client's cloud calls: when it arrived, the caller its token (or token request)
 * named, the operation, and what the emulator answered (status, error code, `Retry-After`, page
 * shape). Tests count calls and measure when an identity was last used from it, without trusting
 * the client's own word. Identifiers and codes only; never a token, a body or a value.
 */
import type { JsonResponse } from "./http.ts";

/** The part of the emulator a request reached. */
export type Plane = "vault" | "identity";

/** One request; the answer's fields are filled in when it is sent. */
export interface LoggedRequest {
  /** Epoch ms when the request arrived. */
  readonly at: number;
  /** Set to "vault" once the request reaches the vault data plane. */
  plane: Plane;
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  /** REST operation id (`SetSecret`, `GetSecretVersions`, `EntraToken`, `UpdateServicePrincipal`, …), `Unauthorized`, `Throttled`, `UnknownRoute` or `MethodNotAllowed`. */
  operation: string;
  /** The status answered; undefined while the request is in flight. */
  status: number | undefined;
  /** The caller: `azp` (client id) of an accepted bearer token, or the `client_id` a token was asked for. */
  clientId: string | undefined;
  /** `error.innererror.code`, else `error.code`, of an error answer. */
  code?: string;
  /** The `Retry-After` header sent, if any. */
  retryAfter?: string;
  /** For list operations: how many items the page held and whether it carried a `nextLink`. */
  page?: { readonly items: number; readonly nextLink: boolean };
}

/** Keeps the most recent requests (a bounded ring, so a long-running `credmesh up` stays small). */
export class RequestLog {
  readonly #entries: LoggedRequest[] = [];
  readonly #capacity: number;

  constructor(capacity = 100_000) {
    this.#capacity = capacity;
  }

  /** Records a request as it arrives; the caller fills in what it learns while serving it. */
  start(method: string, path: string): LoggedRequest {
    const entry: LoggedRequest = { at: Date.now(), plane: "identity", method, path, operation: "", status: undefined, clientId: undefined };
    this.#entries.push(entry);
    if (this.#entries.length > this.#capacity) this.#entries.splice(0, this.#entries.length - this.#capacity);
    return entry;
  }

  /** Records what a vault data-plane request was and what it was answered. */
  answer(entry: LoggedRequest, operation: string, response: JsonResponse): void {
    entry.plane = "vault";
    entry.operation = operation;
    entry.status = response.status;
    const code = errorCodeOf(response.body);
    const page = pageOf(response.body);
    const retryAfter = response.headers?.["retry-after"];
    if (code !== undefined) entry.code = code;
    if (retryAfter !== undefined) entry.retryAfter = retryAfter;
    if (page !== undefined) entry.page = page;
  }

  /** Every request, oldest first (copies). */
  entries(plane?: Plane): readonly LoggedRequest[] {
    return this.#entries.filter((entry) => plane === undefined || entry.plane === plane).map((entry) => ({ ...entry }));
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
