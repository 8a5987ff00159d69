import { CredmeshError } from "./credmesh-error.ts";

/**
 * Exponential backoff with "equal jitter" (a delay between half the ceiling and the ceiling), capped,
 * so retries spread out but never collapse to zero. `random` is injectable for deterministic tests.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 60_000 };

/**
 * Delay before retry number `attempt` (1-based). A server's Retry-After wins over the computed
 * backoff (but is capped at `maxMs`), so we never retry sooner than the cloud asked.
 */
export function retryDelayMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, 0), policy.maxMs);
  const random = policy.random ?? Math.random;
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * A per-process retry budget (token bucket): every retry spends a token, successes earn some
 * back. When several clouds fail at once the budget runs dry and failures surface instead of
 * turning into a retry storm. Modelled on smithy's StandardRetryStrategy quota.
 */
export class RetryBudget {
  readonly #capacity: number;
  readonly #retryCost: number;
  readonly #successRefund: number;
  #tokens: number;

  constructor(options: { capacity?: number; retryCost?: number; successRefund?: number } = {}) {
    this.#capacity = options.capacity ?? 500;
    this.#retryCost = options.retryCost ?? 5;
    this.#successRefund = options.successRefund ?? 1;
    this.#tokens = this.#capacity;
  }

  /** Takes the cost of one retry; false when the budget is exhausted. */
  tryAcquire(): boolean {
    if (this.#tokens < this.#retryCost) return false;
    this.#tokens -= this.#retryCost;
    return true;
  }

  recordSuccess(): void {
    this.#tokens = Math.min(this.#capacity, this.#tokens + this.#successRefund);
  }

  get available(): number {
    return this.#tokens;
  }
}

/** Waits `ms`, or rejects as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal | undefined): CredmeshError {
  return new CredmeshError("timeout", "operation aborted", { cause: signal?.reason });
}

export interface RetryOptions {
  /** Attempts in total, including the first. */
  maxAttempts: number;
  policy?: BackoffPolicy;
  budget?: RetryBudget;
  signal?: AbortSignal;
  /** Called before each wait, for metrics and logs. */
  onRetry?: (error: CredmeshError, attempt: number, delayMs: number) => void;
}

/**
 * Runs `operation` and retries it while it fails with a retryable CredmeshError, the attempt
 * limit is not reached and the budget allows. Permanent errors are thrown at once.
 */
export async function withRetry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await operation(attempt);
      options.budget?.recordSuccess();
      return result;
    } catch (error) {
      if (!(error instanceof CredmeshError) || !error.retryable) throw error;
      if (attempt >= options.maxAttempts) throw error;
      if (options.budget && !options.budget.tryAcquire()) throw error;
      const delay = retryDelayMs(attempt, options.policy, error.retryAfterMs);
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}
