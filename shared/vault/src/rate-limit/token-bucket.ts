/**
 * A limit of `limit` calls in any window of `windowMs` (the shape cloud quotas are stated in:
 * Secrets Manager "50 per second", Key Vault "4,000 per 10 seconds"). 0 means unlimited.
 */
export interface WindowLimit {
  limit: number;
  windowMs: number;
}

/** Share of a window's limit that may go out at once; the rest is spread over the window. */
const BURST_SHARE = 0.1;

/**
 * A token bucket with reservations and pauses, on an injectable clock. It never blocks: callers
 * {@link reserve} tokens and are told how long to wait before using them, so waiting (and
 * abandoning a wait on abort) stays with the caller.
 *
 * Sized from a {@link WindowLimit} so that no window of `windowMs` ever admits more than `limit`:
 * a bucket of capacity C refilled at r admits at most C + r·W calls in a window W, so C is a tenth
 * of the limit and r = (limit − C) / W. Reservations may drive the balance negative (a queue of
 * debt), which keeps waiters in arrival order without a waiter list.
 *
 * A pause (the cloud throttled) empties the bucket and stops refilling until it ends, so traffic
 * resumes gently at the refill rate instead of with a full burst.
 */
export class TokenBucket {
  readonly capacity: number;
  /** Tokens per millisecond; Infinity when unlimited. */
  readonly refillPerMs: number;
  readonly #now: () => number;
  #tokens: number;
  /** Time up to which the balance has been refilled (in the future while paused). */
  #updatedAt: number;
  #pausedUntil = 0;

  constructor(limit: WindowLimit, now: () => number = Date.now) {
    if (!Number.isFinite(limit.limit) || limit.limit < 0 || !Number.isFinite(limit.windowMs) || limit.windowMs <= 0) {
      throw new RangeError(`invalid rate limit ${limit.limit} per ${limit.windowMs} ms`);
    }
    this.#now = now;
    if (limit.limit === 0) {
      this.capacity = Infinity;
      this.refillPerMs = Infinity;
    } else {
      this.capacity = Math.max(1, Math.floor(limit.limit * BURST_SHARE));
      // A limit of 1 cannot keep a burst of 1 and still refill: it admits 2 per window.
      this.refillPerMs = (limit.limit > this.capacity ? limit.limit - this.capacity : limit.limit) / limit.windowMs;
    }
    this.#tokens = this.capacity;
    this.#updatedAt = now();
  }

  get unlimited(): boolean {
    return this.refillPerMs === Infinity;
  }

  /** Tokens available now (negative while reservations are queued). */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /** When the current pause ends (0 or a past time when not paused). */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /**
   * Takes `cost` tokens and returns how many milliseconds the caller must wait before making the
   * call. The tokens are taken now; {@link refund} gives them back if the caller gives up.
   */
  reserve(cost: number): number {
    const now = this.#now();
    if (this.unlimited) return Math.max(0, this.#pausedUntil - now);
    this.#refill();
    this.#tokens -= cost;
    const readyAt = this.#updatedAt + Math.max(0, -this.#tokens) / this.refillPerMs;
    return Math.max(0, readyAt - now, this.#pausedUntil - now);
  }

  /** Returns tokens of a reservation that was not used. */
  refund(cost: number): void {
    if (this.unlimited) return;
    this.#refill();
    this.#tokens = Math.min(this.capacity, this.#tokens + cost);
  }

  /**
   * Stops handing out tokens for `ms` from now (extending, never shortening, a running pause).
   * Queued reservations keep their place after the pause.
   */
  pause(ms: number): void {
    const until = this.#now() + Math.max(0, ms);
    if (until <= this.#pausedUntil) return;
    this.#pausedUntil = until;
    if (this.unlimited) return;
    this.#refill();
    this.#tokens = Math.min(this.#tokens, 0);
    this.#updatedAt = Math.max(this.#updatedAt, until);
  }

  #refill(): void {
    if (this.unlimited) return;
    const now = this.#now();
    if (now <= this.#updatedAt) return;
    this.#tokens = Math.min(this.capacity, this.#tokens + (now - this.#updatedAt) * this.refillPerMs);
    this.#updatedAt = now;
  }
}
