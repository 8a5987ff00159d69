import type { IncomingHttpHeaders } from "node:http";
import type { SharedKeyAuthConfig } from "../eventgrid-config.ts";
import { failed, singleHeader, type AuthResult, type WebhookAuthenticator } from "./eventgrid-auth.ts";
import { SharedSecretSet } from "./shared-secret.ts";

/**
 * Event Grid deliveries authenticated by a static delivery header (FORMATS.md D: up to 10 custom
 * headers per subscription, which may be marked secret). With the default header,
 * `Authorization`, the subscription sends `Authorization: Bearer <key>`; the bare key is accepted
 * too. Keys are compared in constant time against every configured key (rotation).
 */
export class SharedKeyAuthenticator implements WebhookAuthenticator {
  readonly mode = "shared-key" as const;
  readonly #header: string;
  readonly #keys: SharedSecretSet;

  constructor(config: SharedKeyAuthConfig) {
    this.#header = config.header;
    this.#keys = new SharedSecretSet(config.keys);
  }

  get challenge(): string | undefined {
    return this.#header === "authorization" ? 'Bearer realm="credmesh"' : undefined;
  }

  authenticate(headers: IncomingHttpHeaders): Promise<AuthResult> {
    const raw = singleHeader(headers, this.#header);
    if (raw === undefined) return Promise.resolve(failed("missing_credentials"));
    const presented = this.#header === "authorization" ? (/^Bearer\s+(.+?)\s*$/i.exec(raw)?.[1] ?? raw.trim()) : raw.trim();
    return Promise.resolve(this.#keys.matches(presented) ? { ok: true, principal: { scheme: "shared-key" } } : failed("invalid_credentials"));
  }

  warmUp(): Promise<void> {
    return Promise.resolve();
  }
}
