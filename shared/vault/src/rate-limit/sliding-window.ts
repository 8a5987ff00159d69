/**
 * A limit of `limit` calls in any window of `windowMs` (the shape cloud quotas are stated in:
 * Secrets Manager "50 per second", Key Vault "4,000 per 10 seconds"). 0 means unlimited.
 */
export interface WindowLimit {
  limit: number;
  windowMs: number;
}

/** A caller's place in the queue of a {@link SlidingWindowLimiter}. */
export interface WindowTicket {
  readonly cost: number;
}

/** Units a released call holds in the window until they leave it. */
export interface WindowSlot {
  readonly cost: number;
  /** When the units leave the window (ms on the limiter's clock). */
  readonly expiresAt: number;
}

/** Share of the limit that may go at once; the rest is paced evenly over the window. */
const BURST_SHARE = 0.1;

interface Slot {
  cost: number;
  expiresAt: number;
  /** Its call answered (the expiry is a window from the answer, not a guess with a margin). */
  settled: boolean;
}

/**
 * The quota's own shape on the client side: at most `limit` units in any window of `windowMs`,
 * counted from when each call is released (not from when it was queued, so a late timer cannot
 * crowd a window), and held `marginMs` longer than the window, because a call reaches the cloud a
 * little after it leaves the limiter and the cloud counts it on arrival. When the call's answer
 * arrives its units are known to have reached the cloud, so they leave the window at most
 * `windowMs` after the answer ({@link settle}); the margin therefore only costs throughput for
 * calls slower than it. A limiter set to a cloud's quota sustains about
 * `limit / (windowMs + min(latency, marginMs))` and never sends more than the quota in any of the
 * cloud's windows as long as a call reaches the cloud within `marginMs` of its release or answers
 * within it.
 *
 * Inside the window, calls are paced: a tenth of the limit may go at once, then one every
 * `windowMs / limit` on average (a token bucket of that size and rate). The window alone would let
 * the whole limit out in a burst and then nothing until it expires, so every later window would
 * repeat that burst; paced, a saturated limiter sends an even stream, and after a pause it resumes
 * at the pace rather than with a burst. The pace allows `limit` per window, so it costs no throughput.
 *
 * Callers wait in arrival order: {@link enqueue} gives a ticket, {@link waitMs} tells how long until
 * it may go (counting the tickets ahead of it), {@link take} releases it. It never blocks or sleeps
 * itself: waiting, and abandoning a wait ({@link cancel}), stay with the caller, on an injectable
 * clock. A pause (the cloud throttled) holds every ticket until it ends; queued tickets keep their
 * place.
 */
export class SlidingWindowLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly marginMs: number;
  readonly #now: () => number;
  /** Released units still in the window, by expiry, earliest first. */
  readonly #held: Slot[] = [];
  readonly #queue: WindowTicket[] = [];
  #pausedUntil = 0;
  /** The pace: at most `#burst` at once, refilled at one per `#spacingMs`. */
  readonly #burst: number;
  readonly #spacingMs: number;
  #paceTokens: number;
  /** When `#paceTokens` was last brought up to date (in the future after a pause). */
  #paceAt: number;

  constructor(limit: WindowLimit, options: { marginMs?: number; now?: () => number } = {}) {
    const marginMs = options.marginMs ?? 0;
    if (!Number.isFinite(limit.limit) || limit.limit < 0 || !Number.isFinite(limit.windowMs) || limit.windowMs <= 0) {
      throw new RangeError(`invalid rate limit ${limit.limit} per ${limit.windowMs} ms`);
    }
    if (!Number.isFinite(marginMs) || marginMs < 0) throw new RangeError(`invalid rate limit margin ${marginMs} ms`);
    this.limit = Math.floor(limit.limit);
    this.windowMs = limit.windowMs;
    this.marginMs = marginMs;
    this.#now = options.now ?? Date.now;
    this.#burst = Math.max(1, Math.ceil(this.limit * BURST_SHARE));
    this.#spacingMs = this.limit === 0 ? 0 : limit.windowMs / this.limit;
    this.#paceTokens = this.#burst;
    this.#paceAt = this.#now();
  }

  get unlimited(): boolean {
    return this.limit === 0;
  }

  /** When the current pause ends (0 or a past time when not paused). */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /** Units in the window now. */
  get held(): number {
    this.#prune(this.#now());
    return this.#heldUnits();
  }

  /** Tickets waiting. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Joins the queue for `cost` units (a cost above the limit counts as the whole limit). */
  enqueue(cost: number): WindowTicket {
    const ticket: WindowTicket = { cost: this.unlimited ? 0 : Math.min(Math.max(0, cost), this.limit) };
    this.#queue.push(ticket);
    return ticket;
  }

  /**
   * Milliseconds until `ticket` may be released: 0 when it may go now. The tickets ahead of it are
   * counted as if each went at its earliest time, so a later caller never takes the room an
   * earlier one is waiting for. A positive answer is when to ask again: where the wait is for a
   * call still in flight, whose answer will shorten its hold, that is up to the margin sooner.
   */
  waitMs(ticket: WindowTicket): number {
    const now = this.#now();
    this.#prune(now);
    const index = this.#queue.indexOf(ticket);
    if (index < 0) throw new RangeError("the ticket is not queued here");
    const notBefore = Math.max(now, this.#pausedUntil);
    if (this.unlimited) return notBefore - now;
    let at = notBefore;
    let slack = 0;
    const ahead: Slot[] = [];
    let units = this.#heldUnits();
    let pace = { tokens: this.#paceTokens, at: this.#paceAt };
    for (let position = 0; position <= index; position++) {
      const queued = this.#queue[position] as WindowTicket;
      const earliest = this.#earliest(queued.cost, units, ahead);
      const paced = this.#paced(pace, queued.cost);
      if (paced > earliest.at) {
        earliest.at = paced;
        earliest.slack = 0;
      }
      // The ticket waits for whichever came last: its own room, or the one ahead of it.
      if (earliest.at > at) slack = earliest.slack;
      else if (earliest.at === at) slack = Math.max(slack, earliest.slack);
      at = Math.max(at, earliest.at);
      // Those ahead are assumed to go as soon as they might and to answer at once: that only moves
      // when to ask again (they expire after now either way, so whether a ticket may go now is exact).
      ahead.push({ cost: queued.cost, expiresAt: Math.max(at - slack, now) + this.windowMs, settled: true });
      units += queued.cost;
      pace = this.#spend(pace, at, queued.cost);
    }
    const wait = at - now;
    if (wait <= 0) return 0;
    return wait - slack > 0 && at - slack >= notBefore ? wait - slack : wait;
  }

  /**
   * Releases `ticket` now: its units enter the window until `windowMs + marginMs` from now (or
   * until {@link settle} shortens that). Call only when {@link waitMs} said 0.
   */
  take(ticket: WindowTicket): WindowSlot {
    const index = this.#queue.indexOf(ticket);
    if (index < 0) throw new RangeError("the ticket is not queued here");
    this.#queue.splice(index, 1);
    const now = this.#now();
    if (!this.unlimited) {
      const pace = this.#spend({ tokens: this.#paceTokens, at: this.#paceAt }, now, ticket.cost);
      this.#paceTokens = pace.tokens;
      this.#paceAt = pace.at;
    }
    const slot: Slot = { cost: ticket.cost, expiresAt: now + this.windowMs + this.marginMs, settled: false };
    if (slot.cost > 0) this.#insert(slot);
    return slot;
  }

  /** Leaves the queue without releasing (the caller gave up). */
  cancel(ticket: WindowTicket): void {
    const index = this.#queue.indexOf(ticket);
    if (index >= 0) this.#queue.splice(index, 1);
  }

  /**
   * The released call's answer arrived: it reached the cloud before now, so its units leave the
   * window at most `windowMs` from now.
   */
  settle(released: WindowSlot): void {
    const slot = released as Slot;
    const expiresAt = this.#now() + this.windowMs;
    slot.settled = true;
    if (expiresAt >= slot.expiresAt) return;
    const index = this.#held.indexOf(slot);
    if (index < 0) return;
    this.#held.splice(index, 1);
    slot.expiresAt = expiresAt;
    this.#insert(slot);
  }

  /**
   * The released call made no request after all: its units leave the window now and the pace gets
   * them back, as if it had never been released. A settled call did make its request: ignored.
   */
  release(released: WindowSlot): void {
    const slot = released as Slot;
    if (slot.settled) return;
    slot.settled = true;
    const index = this.#held.indexOf(slot);
    if (index >= 0) this.#held.splice(index, 1);
    if (!this.unlimited) this.#paceTokens = Math.min(this.#burst, this.#paceTokens + Math.min(slot.cost, this.#burst));
  }

  /**
   * Releases nothing for `ms` from now (extending, never shortening, a running pause). Queued
   * tickets keep their place after the pause.
   */
  pause(ms: number): void {
    const until = this.#now() + Math.max(0, ms);
    if (until <= this.#pausedUntil) return;
    this.#pausedUntil = until;
    // Resume at the pace, not with a burst.
    this.#paceTokens = Math.min(this.#paceTokens, 0);
    this.#paceAt = Math.max(this.#paceAt, until);
  }

  /** When the pace lets `cost` more go, from its state `pace` (a cost above the burst counts as the burst). */
  #paced(pace: { tokens: number; at: number }, cost: number): number {
    const missing = Math.min(cost, this.#burst) - pace.tokens;
    return missing <= 0 ? pace.at : pace.at + missing * this.#spacingMs;
  }

  /** The pace's state after `cost` went at `at` (not before {@link #paced} allowed it). */
  #spend(pace: { tokens: number; at: number }, at: number, cost: number): { tokens: number; at: number } {
    if (at <= pace.at) return { tokens: pace.tokens - Math.min(cost, this.#burst), at: pace.at };
    const tokens = Math.min(this.#burst, pace.tokens + (at - pace.at) / this.#spacingMs);
    return { tokens: tokens - Math.min(cost, this.#burst), at };
  }

  /**
   * The earliest time `cost` more units fit beside the held ones and `ahead` (`units` of both in
   * all): when enough of the earliest-expiring units have left the window, held ones first (every
   * held one has expired by the time an ahead one would). `slack`: how much sooner that may be
   * once the call it waits for answers.
   */
  #earliest(cost: number, units: number, ahead: readonly Slot[]): { at: number; slack: number } {
    let excess = units + cost - this.limit;
    if (excess <= 0) return { at: 0, slack: 0 };
    for (const slot of this.#held) {
      excess -= slot.cost;
      if (excess <= 0) return { at: slot.expiresAt, slack: slot.settled ? 0 : this.marginMs };
    }
    for (const slot of ahead) {
      excess -= slot.cost;
      if (excess <= 0) return { at: slot.expiresAt, slack: 0 };
    }
    return { at: Infinity, slack: 0 };
  }

  #heldUnits(): number {
    let units = 0;
    for (const slot of this.#held) units += slot.cost;
    return units;
  }

  #insert(slot: Slot): void {
    let low = 0;
    let high = this.#held.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#held[middle] as Slot).expiresAt <= slot.expiresAt) low = middle + 1;
      else high = middle;
    }
    this.#held.splice(low, 0, slot);
  }

  #prune(now: number): void {
    let expired = 0;
    while (expired < this.#held.length && (this.#held[expired] as Slot).expiresAt <= now) expired++;
    if (expired > 0) this.#held.splice(0, expired);
  }
}
