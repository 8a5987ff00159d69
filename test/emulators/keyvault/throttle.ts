/**
 * Key Vault's per-vault throttling: a sliding window of accepted requests. Over the limit the vault
 * answers 429 `Throttled` (fixture azure-keyvault-error-429-throttled) and, as the service does,
 * does not count the refused request (FORMATS.md §E "Throttling").
 */
import type { JsonResponse } from "./http.ts";
import type { ThrottleSettings } from "./settings.ts";

/** The body of the fixture azure-keyvault-error-429-throttled.json. */
const THROTTLED_BODY = {
  error: {
    code: "Throttled",
    message: "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached",
  },
};

export class VaultThrottle {
  #settings: ThrottleSettings;
  /** Times (epoch ms) of the requests accepted within the current window, oldest first. */
  readonly #accepted: number[] = [];

  constructor(settings: ThrottleSettings) {
    this.#settings = settings;
  }

  get settings(): ThrottleSettings {
    return this.#settings;
  }

  /** New limits from now on; requests already accepted stay in the window. */
  set settings(settings: ThrottleSettings) {
    this.#settings = settings;
  }

  /** Counts one request; returns the 429 to answer instead when the window is full. */
  admit(now: number = Date.now()): JsonResponse | undefined {
    const windowStart = now - this.#settings.windowMs;
    while (this.#accepted.length > 0 && (this.#accepted[0] ?? 0) <= windowStart) this.#accepted.shift();
    if (this.#accepted.length >= this.#settings.limit) {
      const retryAfter = this.#settings.retryAfterSeconds;
      return { status: 429, body: THROTTLED_BODY, ...(retryAfter === undefined ? {} : { headers: { "retry-after": String(retryAfter) } }) };
    }
    this.#accepted.push(now);
    return undefined;
  }
}
