/**
 * A quota's sliding window: at most `limit` admissions in any `windowMs`. Refused requests are not
 * counted (as Key Vault documents for its throttling).
 */
export class SlidingWindow {
  readonly #limit: number;
  readonly #windowMs: number;
  /** Times of the admissions still inside the window, oldest first. */
  readonly #admitted: number[] = [];

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Admits a request at `now` (ms) unless `limit` were admitted in the window ending at `now`. */
  admit(now: number): boolean {
    while (this.#admitted.length > 0 && (this.#admitted[0] ?? 0) <= now - this.#windowMs) this.#admitted.shift();
    if (this.#admitted.length >= this.#limit) return false;
    this.#admitted.push(now);
    return true;
  }
}

/** The most of `times` (ms, ascending) that fall in any window of `windowMs`. */
export function peakInWindow(times: readonly number[], windowMs: number): number {
  let peak = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while ((times[end] ?? 0) - (times[start] ?? 0) >= windowMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}
