/**
 * Memoises an expiring credential: concurrent callers share one fetch, and a new fetch starts
 * only once the cached value is within `refreshMarginMs` of expiry (or after a failure). This is
 * what keeps STS at about one call per credential lifetime instead of one per event.
 */
export interface Expiring {
  expiresAt: Date;
}

export interface RefreshPolicy {
  /** Refresh this long before expiry... */
  marginMs: number;
  /** ...but at least this fraction of the lifetime before it (for short-lived credentials). */
  marginFraction: number;
}

export const DEFAULT_REFRESH: RefreshPolicy = { marginMs: 5 * 60_000, marginFraction: 0.2 };

export class CachedCredential<T extends Expiring> {
  readonly #fetch: () => Promise<T>;
  readonly #policy: RefreshPolicy;
  readonly #now: () => number;
  #current: { value: T; fetchedAt: number } | undefined;
  #inFlight: Promise<T> | undefined;

  constructor(fetch: () => Promise<T>, policy: RefreshPolicy = DEFAULT_REFRESH, now: () => number = Date.now) {
    this.#fetch = fetch;
    this.#policy = policy;
    this.#now = now;
  }

  async get(): Promise<T> {
    const current = this.#current;
    if (current && !this.#needsRefresh(current)) return current.value;
    this.#inFlight ??= this.#refresh();
    try {
      return await this.#inFlight;
    } catch (error) {
      // A refresh inside the margin failed, but the cached value is still valid: keep serving it
      // (the next call retries the refresh) rather than failing work an outage need not stop.
      if (current && this.#now() < current.value.expiresAt.getTime()) return current.value;
      throw error;
    }
  }

  /** Drops the cached value, e.g. after the server rejected it as expired. */
  invalidate(): void {
    this.#current = undefined;
  }

  async #refresh(): Promise<T> {
    try {
      const fetchedAt = this.#now();
      const value = await this.#fetch();
      this.#current = { value, fetchedAt };
      return value;
    } finally {
      this.#inFlight = undefined;
    }
  }

  #needsRefresh(current: { value: T; fetchedAt: number }): boolean {
    const expiresAt = current.value.expiresAt.getTime();
    const lifetime = Math.max(0, expiresAt - current.fetchedAt);
    const margin = Math.min(this.#policy.marginMs, lifetime * this.#policy.marginFraction);
    return this.#now() >= expiresAt - margin;
  }
}
