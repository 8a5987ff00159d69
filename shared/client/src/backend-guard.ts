import {
  BrokenCircuitError,
  BulkheadRejectedError,
  CircuitState,
  ConsecutiveBreaker,
  IsolatedCircuitError,
  TaskCancelledError,
  TimeoutStrategy,
  bulkhead,
  circuitBreaker,
  handleWhen,
  timeout,
  type BulkheadPolicy,
  type CircuitBreakerPolicy,
  type TimeoutPolicy,
} from "cockatiel";
import { CredmeshError, type RetryBudget, isAvailabilityFailure, retryDelayMs, sleep, toCredmeshError } from "@credmesh/errors";

/** The resilience settings of one backend; see the README's "Failover rules". */
export interface GuardSettings {
  /** Per-attempt timeout of a cloud call (the SDK gets its abort signal). */
  attemptTimeoutMs: number;
  /** Consecutive availability failures that open the breaker. */
  breakerFailures: number;
  /** How long the breaker stays open before letting sample calls through (half-open). */
  halfOpenAfterMs: number;
  /** Calls sampled while half-open; one failure among them re-opens the breaker. */
  halfOpenSamples: number;
  /** Calls in flight to this backend at most, and calls waiting for a slot. */
  maxConcurrent: number;
  maxQueued: number;
  /** Attempts per call when the cloud throttles (Retry-After first, then backoff with jitter). */
  throttleAttempts: number;
  throttleBackoff: { baseMs: number; maxMs: number; random?: () => number };
  /** Shared by both backends: retries of throttled calls spend it, successes earn it back. */
  retryBudget: RetryBudget;
}

export type BreakerState = "closed" | "open" | "half-open" | "isolated";

const STATE_NAMES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "isolated",
};

/**
 * One backend's resilience, composed from cockatiel policies: a bulkhead (bounded concurrency and
 * queue), a circuit breaker that counts only availability failures (a refusal proves the backend
 * is up), throttled calls retried under the shared retry budget, and a per-attempt timeout whose
 * AbortSignal reaches the SDK. Every failure leaves as a classified `CredmeshError`: an open
 * breaker or a full bulkhead is `unavailable` (codes `CircuitOpen`, `BulkheadFull`), a timeout is
 * `timeout`.
 */
export class BackendGuard {
  readonly #settings: GuardSettings;
  readonly #bulkhead: BulkheadPolicy;
  readonly #breaker: CircuitBreakerPolicy;
  readonly #timeout: TimeoutPolicy;
  readonly #what: string;

  constructor(what: string, settings: GuardSettings, onState: (state: BreakerState) => void) {
    this.#what = what;
    this.#settings = settings;
    this.#bulkhead = bulkhead(settings.maxConcurrent, settings.maxQueued);
    this.#breaker = circuitBreaker(handleWhen(isAvailabilityFailure), {
      halfOpenAfter: settings.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(settings.breakerFailures),
      halfOpenSampling: { calls: settings.halfOpenSamples, threshold: 0 },
    });
    this.#breaker.onStateChange((state) => onState(STATE_NAMES[state]));
    this.#timeout = timeout(settings.attemptTimeoutMs, TimeoutStrategy.Aggressive);
  }

  get state(): BreakerState {
    return STATE_NAMES[this.#breaker.state];
  }

  /** Runs `call` under the policies, within `signal` (the read's deadline). */
  async run<T>(call: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    try {
      return await this.#bulkhead.execute(() => this.#breaker.execute(() => this.#throttleRetried(call, signal), signal), signal);
    } catch (error) {
      throw this.#classified(error);
    }
  }

  async #throttleRetried<T>(call: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.#timeout.execute(({ signal: attemptSignal }) => call(attemptSignal), signal);
        this.#settings.retryBudget.recordSuccess();
        return result;
      } catch (caught) {
        const error = this.#classified(caught);
        const retry =
          error.reason === "throttled" && attempt < this.#settings.throttleAttempts && !signal.aborted && this.#settings.retryBudget.tryAcquire();
        if (!retry) throw error;
        await sleep(retryDelayMs(attempt, this.#settings.throttleBackoff, error.retryAfterMs), signal);
      }
    }
  }

  #classified(error: unknown): CredmeshError {
    if (error instanceof CredmeshError) return error;
    if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) {
      return new CredmeshError("unavailable", `${this.#what}: circuit open`, { code: "CircuitOpen", cause: error });
    }
    if (error instanceof BulkheadRejectedError) {
      return new CredmeshError("unavailable", `${this.#what}: too many calls in flight`, { code: "BulkheadFull", cause: error });
    }
    if (error instanceof TaskCancelledError) return new CredmeshError("timeout", `${this.#what}: no answer within the deadline`, { cause: error });
    return toCredmeshError(error);
  }
}
