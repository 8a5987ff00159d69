/**
 * Every request the emulator served, with when it arrived and the principal its bearer token named:
 * an independent record of which identity called when (quarantine tests measure from it, not from
 * the caller's own word). For test diagnostics only; holds no token or value.
 */
export interface LoggedRequest {
  /** When the request arrived (ms since the epoch). */
  readonly at: number;
  readonly method: string;
  readonly path: string;
  /** REST operation (`SetSecret`, `GetToken`, `EntraToken`, `GraphServicePrincipal`, ...). */
  operation: string;
  status: number | undefined;
  /** The caller: `azp` (client id) of an accepted bearer token, or the `client_id` a token was asked for. */
  clientId: string | undefined;
}

export class RequestLog {
  readonly #entries: LoggedRequest[] = [];

  start(method: string, path: string): LoggedRequest {
    const entry: LoggedRequest = { at: Date.now(), method, path, operation: "", status: undefined, clientId: undefined };
    this.#entries.push(entry);
    return entry;
  }

  entries(): readonly LoggedRequest[] {
    return this.#entries.map((entry) => ({ ...entry }));
  }
}
