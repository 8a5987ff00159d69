import type { IncomingHttpHeaders } from "node:http";
import type { IngestConfig } from "../config.ts";
import { SharedSecretSet } from "./shared-secret.ts";

/**
 * EventBridge API-destination connection auth (FORMATS.md B): the API key header
 * (`<ApiKeyName>: <ApiKeyValue>`) or `Authorization: Basic`. EventBridge does not sign requests,
 * so the connection secret is the only proof of origin.
 */
export class EventBridgeAuthenticator {
  readonly #header: string;
  readonly #apiKeys: SharedSecretSet;
  readonly #basic: SharedSecretSet;

  constructor(config: IngestConfig["eventBridge"]) {
    this.#header = config.apiKeyHeader;
    this.#apiKeys = new SharedSecretSet(config.apiKeys);
    this.#basic = new SharedSecretSet(config.basicCredentials);
  }

  /** Whether Basic auth is configured (then a 401 carries a Basic challenge). */
  get acceptsBasic(): boolean {
    return this.#basic.size > 0;
  }

  authenticate(headers: IncomingHttpHeaders): boolean {
    const apiKey = headers[this.#header];
    const keyOk = this.#apiKeys.matches(Array.isArray(apiKey) ? undefined : apiKey);
    const basicOk = this.#basic.matches(basicCredential(headers.authorization));
    return keyOk || basicOk;
  }
}

function basicCredential(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match?.[1]) return undefined;
  return Buffer.from(match[1], "base64").toString("utf8");
}
