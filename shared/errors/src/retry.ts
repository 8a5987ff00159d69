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
 * The longest Retry-After credmesh honours. No cloud asks for more than a few seconds to minutes;
 * a longer value (an HTTP-date far in the future) is a broken header, read as this bound so one
 * bad answer cannot park a message or a vault for days.
 */
export const RETRY_AFTER_MAX_MS = 600_000;

/** A server's Retry-After as credmesh honours it: never negative, at most {@link RETRY_AFTER_MAX_MS}. */
export function honouredRetryAfterMs(retryAfterMs: number): number {
  return Math.min(Math.max(retryAfterMs, 0), RETRY_AFTER_MAX_MS);
}

/**
 * Delay before retry number `attempt` (1-based). A server's Retry-After wins over the computed
 * backoff and is never shortened by the policy's cap: credmesh never calls a cloud sooner than it
 * asked (README "Errors, retries and dead letters"). Only {@link RETRY_AFTER_MAX_MS} bounds it.
 */
export function retryDelayMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return honouredRetryAfterMs(retryAfterMs);
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

/**
 * The error an aborted wait or call reports: the signal's reason when it is already a
 * CredmeshError (a lost lease says so), else `timeout` (a deadline passed).
 */
export function abortError(signal: AbortSignal | undefined): CredmeshError {
  const reason: unknown = signal?.reason;
  if (reason instanceof CredmeshError) return reason;
  return new CredmeshError("timeout", "operation aborted: its deadline passed", { cause: reason });
}

export interface RetryOptions {
  /** Attempts in total, including the first. */
  maxAttempts: number;
  policy?: BackoffPolicy;
  /**
   * The longest wait an in-process retry may hold the caller (default: the policy's `maxMs`). A
   * failure whose Retry-After asks for more is thrown at once, its `retryAfterMs` intact, so the
   * caller hands the wait to something that does not hold a worker (JetStream's nak delay).
   */
  maxDelayMs?: number;
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
      // Aborted by the caller's deadline (or a lost lease): retrying cannot help.
      if (options.signal?.aborted) throw abortError(options.signal);
      const delay = retryDelayMs(attempt, options.policy, error.retryAfterMs);
      if (delay > (options.maxDelayMs ?? options.policy?.maxMs ?? DEFAULT_BACKOFF.maxMs)) throw error;
      if (options.budget && !options.budget.tryAcquire()) throw error;
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}
