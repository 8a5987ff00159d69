import { CredmeshError, abortError, honouredRetryAfterMs, sleep as abortableSleep } from "@credmesh/errors";
import { RATE_LIMIT_CAUSE, type Metrics, type RateLimitBucket } from "@credmesh/metrics";
import { OPERATION_COSTS, bucketLimits, type RateLimitSettings, type VaultOperation } from "./settings.ts";
import { SlidingWindowLimiter, type WindowTicket } from "./sliding-window.ts";

export type LimiterMetrics = Pick<Metrics, "rateLimitWaits" | "rateLimitWaitDuration" | "rateLimitPauses">;

export interface VaultRateLimiterOptions {
  cloud: "aws" | "azure";
  /** The vault's label: `aws/<account>/<region>` or the Key Vault host. */
  vault: string;
  settings: RateLimitSettings;
  metrics?: LimiterMetrics | undefined;
  /** Clock and sleep, injectable for tests; sleep must reject when the signal aborts. */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What a call holds in its vault's limiter: tell it when the call's answer arrived. */
export interface Permit {
  /** The call answered (whatever the answer): its units leave the window a window after now. */
  settle(): void;
  /** No request was made after all: the units go back at once (a page iterator that had ended). */
  release(): void;
}

const NO_PERMIT: Permit = { settle: () => undefined, release: () => undefined };

/**
 * The rate limiter of one vault: a sliding window per quota ({@link SlidingWindowLimiter}), the
 * cost of each port operation in each window, and back-off when the cloud throttles anyway
 * (another writer shares the quota, or the limits are set too high): the windows the throttled
 * operation draws from pause for the cloud's Retry-After, or for an exponentially growing pause
 * without one.
 */
export class VaultRateLimiter {
  readonly cloud: "aws" | "azure";
  readonly vault: string;
  readonly #settings: RateLimitSettings;
  readonly #windows = new Map<RateLimitBucket, SlidingWindowLimiter>();
  readonly #metrics: LimiterMetrics | undefined;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  #consecutiveThrottles = 0;

  constructor(options: VaultRateLimiterOptions) {
    this.cloud = options.cloud;
    this.vault = options.vault;
    this.#settings = options.settings;
    this.#metrics = options.metrics;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? abortableSleep;
    for (const [bucket, limit] of Object.entries(bucketLimits(options.cloud, options.settings))) {
      this.#windows.set(bucket as RateLimitBucket, new SlidingWindowLimiter(limit, { marginMs: options.settings.marginMs, now: this.#now }));
    }
  }

  /**
   * Waits until `operation` may call the cloud, in arrival order, and releases it in every window
   * it draws from at once. Rejects as soon as `signal` aborts (leaving the queue), and fails as
   * `throttled`, with the wait as Retry-After, when the whole wait would be longer than the
   * configured maximum: the message is then retried later by the bus instead of holding a worker.
   * The returned permit is settled when the call's answer arrives.
   */
  async acquire(operation: VaultOperation, signal?: AbortSignal): Promise<Permit> {
    if (signal?.aborted) throw abortError(signal);
    const tickets: Array<[RateLimitBucket, SlidingWindowLimiter, WindowTicket]> = [];
    for (const [name, cost] of this.#costs(operation)) {
      const window = this.#windows.get(name);
      if (window) tickets.push([name, window, window.enqueue(cost)]);
    }
    if (tickets.length === 0) return NO_PERMIT;
    const started = this.#now();
    let waited = false;
    let released = false;
    try {
      for (;;) {
        let waitMs = 0;
        let waitBucket: RateLimitBucket | undefined;
        let paused = false;
        const now = this.#now();
        for (const [name, window, ticket] of tickets) {
          const wait = window.waitMs(ticket);
          if (window.pausedUntil > now) paused = true;
          if (wait > waitMs) {
            waitMs = wait;
            waitBucket = name;
          }
        }
        if (waitMs <= 0 || waitBucket === undefined) {
          const slots = tickets.map(([, window, ticket]) => [window, window.take(ticket)] as const);
          released = true;
          return {
            settle: () => slots.forEach(([window, slot]) => window.settle(slot)),
            release: () => slots.forEach(([window, slot]) => window.release(slot)),
          };
        }
        if (now - started + waitMs > this.#settings.maxWaitMs) {
          throw new CredmeshError("throttled", `rate limit of ${this.vault}: ${operation} would wait ${Math.ceil(waitMs)} ms`, {
            retryAfterMs: Math.ceil(waitMs),
          });
        }
        if (!waited) {
          waited = true;
          const cause = paused ? RATE_LIMIT_CAUSE.throttled : RATE_LIMIT_CAUSE.quota;
          this.#metrics?.rateLimitWaits.inc({ cloud: this.cloud, vault: this.vault, bucket: waitBucket, cause });
        }
        await this.#sleep(Math.max(1, Math.ceil(waitMs)), signal);
      }
    } finally {
      if (!released) for (const [, window, ticket] of tickets) window.cancel(ticket);
      if (waited) this.#metrics?.rateLimitWaitDuration.observe({ cloud: this.cloud, vault: this.vault }, (this.#now() - started) / 1000);
    }
  }

  /**
   * The cloud throttled a call of `operation`: pause the buckets it draws from — for the whole of
   * the cloud's Retry-After (never a call sooner than it asked), or without one for a doubling
   * pause capped at `maxPauseMs`. A pause longer than `maxWaitMs` does not hold callers: they fail
   * at once as throttled with the rest of the pause as Retry-After, which becomes JetStream's nak
   * delay. Returns the pause in milliseconds, or 0 when a running pause already covers it.
   */
  throttled(operation: VaultOperation, retryAfterMs?: number): number {
    this.#consecutiveThrottles++;
    const pauseMs =
      retryAfterMs === undefined
        ? Math.min(this.#settings.pauseMs * 2 ** Math.min(this.#consecutiveThrottles - 1, 16), this.#settings.maxPauseMs)
        : honouredRetryAfterMs(retryAfterMs);
    let extended = false;
    for (const [name] of this.#costs(operation)) {
      const window = this.#windows.get(name);
      if (!window) continue;
      const before = window.pausedUntil;
      window.pause(pauseMs);
      if (window.pausedUntil > before) {
        extended = true;
        this.#metrics?.rateLimitPauses.inc({ cloud: this.cloud, vault: this.vault, bucket: name });
      }
    }
    return extended ? pauseMs : 0;
  }

  /** Units `bucket` holds in its window now: what this vault's calls of the last window cost. */
  held(bucket: RateLimitBucket): number {
    return this.#windows.get(bucket)?.held ?? 0;
  }

  /** A call went through: the next throttle starts the back-off from the beginning. */
  succeeded(): void {
    this.#consecutiveThrottles = 0;
  }

  #costs(operation: VaultOperation): Array<[RateLimitBucket, number]> {
    return Object.entries(OPERATION_COSTS[this.cloud][operation]) as Array<[RateLimitBucket, number]>;
  }
}
