import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CredmeshError } from "./credmesh-error.ts";
import { RETRY_AFTER_MAX_MS, RetryBudget, abortError, retryDelayMs, sleep, withRetry, type BackoffPolicy } from "./retry.ts";

const lowest: BackoffPolicy = { baseMs: 100, maxMs: 10_000, random: () => 0 };
const highest: BackoffPolicy = { baseMs: 100, maxMs: 10_000, random: () => 1 - Number.EPSILON };

const throttled = (retryAfterMs?: number): CredmeshError =>
  new CredmeshError("throttled", "secretsmanager PutSecretValue failed", retryAfterMs === undefined ? {} : { retryAfterMs });

describe("retryDelayMs", () => {
  it("waits what the server asked for, ignoring the backoff", () => {
    expect(retryDelayMs(1, lowest, 7_000)).toBe(7_000);
    expect(retryDelayMs(5, highest, 250)).toBe(250);
  });

  it("never shortens a server's Retry-After to the policy maximum: the cloud is never called sooner than it asked", () => {
    expect(retryDelayMs(1, lowest, 45_000)).toBe(45_000);
  });

  it("reads a Retry-After beyond the honoured bound (a broken header) as that bound", () => {
    expect(retryDelayMs(1, lowest, 3_600_000)).toBe(RETRY_AFTER_MAX_MS);
  });

  it("treats a negative Retry-After as no wait", () => {
    expect(retryDelayMs(1, lowest, -5)).toBe(0);
  });

  it("doubles the backoff ceiling with each attempt", () => {
    expect([1, 2, 3, 4, 5].map((attempt) => retryDelayMs(attempt, highest))).toEqual([100, 200, 400, 800, 1_600]);
  });

  it("never waits less than half the ceiling (jitter is drawn from its upper half)", () => {
    expect([1, 2, 3, 4, 5].map((attempt) => retryDelayMs(attempt, lowest))).toEqual([50, 100, 200, 400, 800]);
  });

  it("stops growing at the policy maximum", () => {
    expect(retryDelayMs(30, highest)).toBe(10_000);
    expect(retryDelayMs(1_000, highest)).toBe(10_000);
  });

  it("stays within [ceiling/2, ceiling] for any attempt and any random draw", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        (attempt, draw, baseMs, maxMs) => {
          const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
          const delay = retryDelayMs(attempt, { baseMs, maxMs, random: () => draw });
          expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
          expect(delay).toBeLessThanOrEqual(Math.min(Math.ceil(ceiling), maxMs));
        },
      ),
    );
  });

  it("spreads retries of simultaneous failures apart", () => {
    const draws = [0, 0.25, 0.5, 0.75];
    const delays = draws.map((draw) => retryDelayMs(3, { baseMs: 100, maxMs: 10_000, random: () => draw }));
    expect(new Set(delays).size).toBe(draws.length);
  });
});

describe("RetryBudget", () => {
  it("allows retries until its tokens run out", () => {
    const budget = new RetryBudget({ capacity: 10, retryCost: 5 });
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(false);
    expect(budget.available).toBe(0);
  });

  it("earns retries back through successes", () => {
    const budget = new RetryBudget({ capacity: 10, retryCost: 5, successRefund: 1 });
    budget.tryAcquire();
    budget.tryAcquire();
    for (let i = 0; i < 4; i++) budget.recordSuccess();
    expect(budget.tryAcquire()).toBe(false);
    budget.recordSuccess();
    expect(budget.tryAcquire()).toBe(true);
  });

  it("never holds more than its capacity", () => {
    const budget = new RetryBudget({ capacity: 10, retryCost: 5 });
    for (let i = 0; i < 100; i++) budget.recordSuccess();
    expect(budget.available).toBe(10);
  });

  it("starts full with 500 tokens at 5 per retry by default", () => {
    const budget = new RetryBudget();
    let retries = 0;
    while (budget.tryAcquire()) retries++;
    expect(retries).toBe(100);
  });
});

describe("withRetry", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("retries a retryable failure after the computed delay and returns the eventual result", async () => {
    const operation = vi.fn(async (attempt: number) => {
      if (attempt < 3) throw throttled();
      return "written";
    });
    const onRetry = vi.fn<(error: CredmeshError, attempt: number, delayMs: number) => void>();
    const result = withRetry(operation, { maxAttempts: 5, policy: lowest, onRetry });

    await vi.advanceTimersByTimeAsync(0);
    expect(operation).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(49);
    expect(operation).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(operation).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(operation).toHaveBeenCalledTimes(3);

    await expect(result).resolves.toBe("written");
    expect(onRetry.mock.calls.map(([error, attempt, delay]) => [error.reason, attempt, delay])).toEqual([
      ["throttled", 1, 50],
      ["throttled", 2, 100],
    ]);
  });

  it("waits as long as the server's Retry-After asked", async () => {
    const operation = vi.fn(async (attempt: number) => {
      if (attempt === 1) throw throttled(7_000);
      return "ok";
    });
    const onRetry = vi.fn();
    const result = withRetry(operation, { maxAttempts: 3, policy: lowest, onRetry });

    await vi.advanceTimersByTimeAsync(6_999);
    expect(operation).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(result).resolves.toBe("ok");
    expect(onRetry).toHaveBeenCalledWith(expect.any(CredmeshError), 1, 7_000);
  });

  it("throws a permanent failure at once", async () => {
    const denied = new CredmeshError("access_denied", "keyvault SetSecret failed (HTTP 403)");
    const operation = vi.fn(async () => {
      throw denied;
    });
    const onRetry = vi.fn();
    await expect(withRetry(operation, { maxAttempts: 5, policy: lowest, onRetry })).rejects.toBe(denied);
    expect(operation).toHaveBeenCalledTimes(1);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it("does not retry an unclassified error", async () => {
    const foreign = new TypeError("boom");
    const operation = vi.fn(async () => {
      throw foreign;
    });
    await expect(withRetry(operation, { maxAttempts: 5, policy: lowest })).rejects.toBe(foreign);
    expect(operation).toHaveBeenCalledTimes(1);
  });

  it("stops after maxAttempts and throws the last failure", async () => {
    const failures = [throttled(), throttled(), throttled(), throttled()];
    const operation = vi.fn(async (attempt: number) => {
      throw failures[attempt - 1]!;
    });
    const result = withRetry(operation, { maxAttempts: 3, policy: lowest });
    const settled = expect(result).rejects.toBe(failures[2]);
    await vi.runAllTimersAsync();
    await settled;
    expect(operation).toHaveBeenCalledTimes(3);
  });

  it("stops retrying when the shared budget runs dry", async () => {
    const budget = new RetryBudget({ capacity: 10, retryCost: 5 });
    const operation = vi.fn(async () => {
      throw throttled();
    });
    const result = withRetry(operation, { maxAttempts: 100, policy: lowest, budget });
    const settled = expect(result).rejects.toMatchObject({ reason: "throttled" });
    await vi.runAllTimersAsync();
    await settled;
    expect(operation).toHaveBeenCalledTimes(3);
    expect(budget.available).toBe(0);
  });

  it("does not retry at all with an empty budget", async () => {
    const budget = new RetryBudget({ capacity: 4, retryCost: 5 });
    const operation = vi.fn(async () => {
      throw throttled();
    });
    await expect(withRetry(operation, { maxAttempts: 5, policy: lowest, budget })).rejects.toMatchObject({ reason: "throttled" });
    expect(operation).toHaveBeenCalledTimes(1);
  });

  it("refunds the budget on success", async () => {
    const budget = new RetryBudget({ capacity: 10, retryCost: 5, successRefund: 1 });
    budget.tryAcquire();
    await withRetry(async () => "ok", { maxAttempts: 1, budget });
    expect(budget.available).toBe(6);
  });

  it("gives up during the wait as soon as the signal aborts", async () => {
    const controller = new AbortController();
    const operation = vi.fn(async () => {
      throw throttled(5_000);
    });
    const result = withRetry(operation, { maxAttempts: 5, policy: lowest, signal: controller.signal });
    const settled = expect(result).rejects.toMatchObject({ reason: "timeout", message: "operation aborted: its deadline passed" });

    await vi.advanceTimersByTimeAsync(1_000);
    controller.abort();
    await settled;
    await vi.runAllTimersAsync();
    expect(operation).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("does not wait at all with an already aborted signal", async () => {
    const operation = vi.fn(async () => {
      throw throttled();
    });
    await expect(
      withRetry(operation, { maxAttempts: 5, policy: lowest, signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ reason: "timeout" });
    expect(operation).toHaveBeenCalledTimes(1);
  });
});

describe("withRetry: Retry-After longer than an in-process retry should hold a worker", () => {
  it("throws at once with the cloud's Retry-After intact, so the caller hands the wait to the bus", async () => {
    const error = throttled(30_000);
    const operation = vi.fn(async () => {
      throw error;
    });
    const onRetry = vi.fn();
    await expect(withRetry(operation, { maxAttempts: 5, policy: lowest, maxDelayMs: 2_000, onRetry })).rejects.toBe(error);
    expect(error.retryAfterMs).toBe(30_000);
    expect(operation).toHaveBeenCalledTimes(1);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it("does not spend the retry budget on a wait it hands back", async () => {
    const budget = new RetryBudget({ capacity: 10, retryCost: 5 });
    await expect(withRetry(async () => Promise.reject(throttled(30_000)), { maxAttempts: 5, policy: lowest, maxDelayMs: 2_000, budget })).rejects.toMatchObject({
      reason: "throttled",
    });
    expect(budget.available).toBe(10);
  });
});

describe("abortError", () => {
  it("reports a deadline as a retryable timeout", () => {
    expect(abortError(AbortSignal.abort(new Error("deadline")))).toMatchObject({ reason: "timeout", retryable: true });
  });

  it("reports the signal's own CredmeshError reason (a lost lease) as it is", () => {
    const lost = new CredmeshError("operation_in_progress", "the secret lease was lost");
    expect(abortError(AbortSignal.abort(lost))).toBe(lost);
  });
});

describe("sleep", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("resolves after the given time", async () => {
    let done = false;
    void sleep(500).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(499);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
  });

  it("keeps the abort reason as the cause", async () => {
    const controller = new AbortController();
    const slept = sleep(500, controller.signal);
    const reason = new Error("shutdown");
    controller.abort(reason);
    await expect(slept).rejects.toMatchObject({ reason: "timeout", cause: reason });
  });
});
