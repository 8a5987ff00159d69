import { CredmeshError, abortError, honouredRetryAfterMs, sleep as abortableSleep } from "@credmesh/errors";
import { RATE_LIMIT_CAUSE, type Metrics, type RateLimitBucket } from "@credmesh/metrics";
import { OPERATION_COSTS, bucketLimits, type RateLimitSettings, type VaultOperation } from "./settings.ts";
import { TokenBucket } from "./token-bucket.ts";

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

/**
 * The rate limiter of one vault: a token bucket per quota, the cost of each port operation in
 * each bucket, and back-off when the cloud throttles anyway (another writer shares the quota, or
 * the limits are set too high): the buckets the throttled operation draws from pause for the
 * cloud's Retry-After, or for an exponentially growing pause without one.
 */
export class VaultRateLimiter {
  readonly cloud: "aws" | "azure";
  readonly vault: string;
  readonly #settings: RateLimitSettings;
  readonly #buckets = new Map<RateLimitBucket, TokenBucket>();
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
      this.#buckets.set(bucket as RateLimitBucket, new TokenBucket(limit, this.#now));
    }
  }

  /**
   * Waits until `operation` may call the cloud. Rejects as soon as `signal` aborts (the tokens go
   * back), and fails at once as `throttled`, with the wait as Retry-After, when the wait would be
   * longer than the configured maximum: the message is then retried later by the bus instead of
   * holding a worker.
   */
  async acquire(operation: VaultOperation, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortError(signal);
    const taken: Array<[TokenBucket, number]> = [];
    let waitMs = 0;
    let waitBucket: RateLimitBucket | undefined;
    let paused = false;
    const now = this.#now();
    for (const [name, cost] of this.#costs(operation)) {
      const bucket = this.#buckets.get(name);
      if (!bucket) continue;
      const wait = bucket.reserve(cost);
      taken.push([bucket, cost]);
      if (bucket.pausedUntil > now) paused = true;
      if (wait > waitMs) {
        waitMs = wait;
        waitBucket = name;
      }
    }
    if (waitMs <= 0 || waitBucket === undefined) return;
    const refund = (): void => {
      for (const [bucket, cost] of taken) bucket.refund(cost);
    };
    if (waitMs > this.#settings.maxWaitMs) {
      refund();
      throw new CredmeshError("throttled", `rate limit of ${this.vault}: ${operation} would wait ${Math.ceil(waitMs)} ms`, {
        retryAfterMs: Math.ceil(waitMs),
      });
    }
    const cause = paused ? RATE_LIMIT_CAUSE.throttled : RATE_LIMIT_CAUSE.quota;
    this.#metrics?.rateLimitWaits.inc({ cloud: this.cloud, vault: this.vault, bucket: waitBucket, cause });
    const started = this.#now();
    try {
      await this.#sleep(Math.ceil(waitMs), signal);
      // A pause may have begun while this call waited its turn: it waits that out too.
      for (let pauseMs = this.#pauseRemaining(operation); pauseMs > 0; pauseMs = this.#pauseRemaining(operation)) {
        await this.#sleep(pauseMs, signal);
      }
    } catch (error) {
      refund();
      throw error;
    } finally {
      this.#metrics?.rateLimitWaitDuration.observe({ cloud: this.cloud, vault: this.vault }, (this.#now() - started) / 1000);
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
      const bucket = this.#buckets.get(name);
      if (!bucket) continue;
      const before = bucket.pausedUntil;
      bucket.pause(pauseMs);
      if (bucket.pausedUntil > before) {
        extended = true;
        this.#metrics?.rateLimitPauses.inc({ cloud: this.cloud, vault: this.vault, bucket: name });
      }
    }
    return extended ? pauseMs : 0;
  }

  /** A call went through: the next throttle starts the back-off from the beginning. */
  succeeded(): void {
    this.#consecutiveThrottles = 0;
  }

  #costs(operation: VaultOperation): Array<[RateLimitBucket, number]> {
    return Object.entries(OPERATION_COSTS[this.cloud][operation]) as Array<[RateLimitBucket, number]>;
  }

  #pauseRemaining(operation: VaultOperation): number {
    const now = this.#now();
    let remaining = 0;
    for (const [name] of this.#costs(operation)) {
      const bucket = this.#buckets.get(name);
      if (bucket) remaining = Math.max(remaining, bucket.pausedUntil - now);
    }
    return remaining;
  }
}
