import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { busiestWindow } from "./busiest-window.test-support.ts";
import { SlidingWindowLimiter, type WindowSlot } from "./sliding-window.ts";

/** A limiter on a hand-driven clock. */
function limiterAt(limit: number, windowMs: number, marginMs = 0): { window: SlidingWindowLimiter; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  return { window: new SlidingWindowLimiter({ limit, windowMs }, { marginMs, now: () => clock.now }), clock };
}

/**
 * Drives callers through the limiter the way VaultRateLimiter does: a caller queues, sleeps as long
 * as it is told (plus timer lateness), asks again, and is released only on 0. Each released call
 * reaches "the cloud" `delay` after its release and answers `latency` after that.
 */
function simulate(
  window: SlidingWindowLimiter,
  clock: { now: number },
  arrivals: Array<{ gap: number; cost: number; late: number; delay: number; latency: number }>,
): { arrivedAt: number[]; releasedAt: number[] } {
  type Event = { at: number; run: () => void };
  const events: Event[] = [];
  const schedule = (at: number, run: () => void): void => {
    events.push({ at, run });
    events.sort((a, b) => a.at - b.at);
  };
  const arrivedAt: number[] = [];
  const releasedAt: number[] = [];
  let at = clock.now;
  for (const arrival of arrivals) {
    at += arrival.gap;
    schedule(at, () => {
      const ticket = window.enqueue(arrival.cost);
      const attempt = (): void => {
        const wait = window.waitMs(ticket);
        if (wait > 0) {
          schedule(clock.now + Math.max(1, Math.ceil(wait)) + arrival.late, attempt);
          return;
        }
        const slot: WindowSlot = window.take(ticket);
        releasedAt.push(clock.now);
        for (let unit = 0; unit < ticket.cost; unit++) arrivedAt.push(clock.now + arrival.delay);
        schedule(clock.now + arrival.delay + arrival.latency, () => window.settle(slot));
      };
      attempt();
    });
  }
  for (let event = events.shift(); event; event = events.shift()) {
    clock.now = Math.max(clock.now, event.at);
    event.run();
  }
  return { arrivedAt, releasedAt };
}

describe("SlidingWindowLimiter", () => {
  it("lets a tenth of the limit through at once, then paces the rest evenly over the window", () => {
    const { window } = limiterAt(20, 1_000);
    const tickets = Array.from({ length: 5 }, () => window.enqueue(1));
    expect(tickets.map((ticket) => window.waitMs(ticket))).toEqual([0, 0, 50, 100, 150]);
  });

  it("frees a call's place a window and the margin after its release, whatever the pace allows", () => {
    const { window, clock } = limiterAt(3, 1_000, 100);
    for (let call = 0; call < 3; call++) {
      const ticket = window.enqueue(1);
      clock.now += window.waitMs(ticket);
      window.take(ticket);
    }
    expect(window.held).toBe(3);
    expect(clock.now - 1_000_000).toBeCloseTo(666.67, 1);
    const fourth = window.enqueue(1);
    clock.now = 1_000_000 + 1_000;
    // The pace would allow it now; the window holds the first call (unanswered) for the margin.
    expect(window.waitMs(fourth)).toBe(100);
    clock.now += 100;
    expect(window.waitMs(fourth)).toBe(0);
  });

  it("counts a call from its release, not from when it queued", () => {
    const { window, clock } = limiterAt(1, 1_000);
    window.take(window.enqueue(1));
    const late = window.enqueue(1);
    expect(window.waitMs(late)).toBe(1_000);
    // The waiter's timer fires 300 ms late: the window counts the call from then.
    clock.now += 1_300;
    window.take(late);
    const next = window.enqueue(1);
    expect(window.waitMs(next)).toBe(1_000);
  });

  it("holds a released call for the margin beyond the window until its answer arrives, then for a window from the answer", () => {
    const { window, clock } = limiterAt(1, 1_000, 100);
    const slot = window.take(window.enqueue(1));
    const next = window.enqueue(1);
    // Ask again when the window has passed (the answer will likely have shortened the hold by then) …
    expect(window.waitMs(next)).toBe(1_000);
    clock.now += 20;
    window.settle(slot);
    expect(window.waitMs(next)).toBe(1_000);
    // … and without an answer by then, the margin is waited out.
    const unanswered = limiterAt(1, 1_000, 100);
    unanswered.window.take(unanswered.window.enqueue(1));
    const after = unanswered.window.enqueue(1);
    unanswered.clock.now += 1_000;
    expect(unanswered.window.waitMs(after)).toBe(100);
    // An answer later than the margin does not lengthen the hold.
    const slow = window.take(window.enqueue(1));
    clock.now += 5_000;
    window.settle(slow);
    expect(slow.expiresAt).toBe(1_000_000 + 20 + 1_100);
  });

  it("keeps arrival order: a later caller does not take the room an earlier one waits for", () => {
    const { window, clock } = limiterAt(2, 1_000);
    window.take(window.enqueue(1));
    clock.now += 500;
    window.take(window.enqueue(1));
    const big = window.enqueue(2);
    const small = window.enqueue(1);
    // The cost-2 call needs both units back (at 1,500); the cost-1 call behind it goes after it.
    expect(window.waitMs(big)).toBe(1_000);
    expect(window.waitMs(small)).toBe(2_000);
    window.cancel(big);
    expect(window.waitMs(small)).toBe(500);
    expect(window.queued).toBe(1);
  });

  it("never lets more than the limit reach the cloud in any window when calls arrive within the margin, whatever the timers and answers do", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.constantFrom(1_000, 10_000),
        fc.integer({ min: 0, max: 200 }),
        fc.array(
          fc.record({
            gap: fc.integer({ min: 0, max: 300 }),
            cost: fc.integer({ min: 1, max: 2 }),
            late: fc.integer({ min: 0, max: 250 }),
            delay: fc.integer({ min: 0, max: 200 }),
            latency: fc.integer({ min: 0, max: 2_000 }),
          }),
          { minLength: 1, maxLength: 300 },
        ),
        (limit, windowMs, marginMs, arrivals) => {
          const { window, clock } = limiterAt(limit, windowMs, marginMs);
          // A call reaches the cloud within the margin of its release (and, by construction, before its answer).
          const shaped = arrivals.map((arrival) => ({ ...arrival, delay: Math.min(arrival.delay, marginMs) }));
          const { arrivedAt } = simulate(window, clock, shaped);
          expect(arrivedAt).toHaveLength(shaped.reduce((sum, arrival) => sum + Math.min(arrival.cost, limit), 0));
          expect(busiestWindow(arrivedAt, windowMs)).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("sustains the quota less only the calls' latency (up to the margin) when more than the quota is offered", () => {
    // 20 per second, 30 offered per second for 30 s, answers 15 ms after release, timers 2 ms late, a 100 ms margin.
    const { window, clock } = limiterAt(20, 1_000, 100);
    const arrivals = Array.from({ length: 900 }, () => ({ gap: 33, cost: 1, late: 2, delay: 5, latency: 10 }));
    const { releasedAt } = simulate(window, clock, arrivals);
    const start = 1_000_000 + 5_000;
    const steady = releasedAt.filter((at) => at >= start && at < start + 25_000).length / 25;
    // 20 per 1,017 ms at best.
    expect(steady).toBeGreaterThanOrEqual(19.5);
    expect(steady).toBeLessThanOrEqual(20);

    // Key Vault's 10 s window with calls slower than the margin: 200 per 10.1 s.
    const slow = limiterAt(200, 10_000, 100);
    const keyVault = simulate(slow.window, slow.clock, Array.from({ length: 900 }, () => ({ gap: 33, cost: 1, late: 0, delay: 5, latency: 500 })));
    const rate = keyVault.releasedAt.filter((at) => at >= start + 5_000 && at < start + 25_000).length / 20;
    expect(rate).toBeGreaterThanOrEqual(19.5);
    expect(rate).toBeLessThanOrEqual(20);
  });

  it("releases nothing during a pause; queued callers keep their place and resume at the pace", () => {
    const { window, clock } = limiterAt(5, 1_000);
    const first = window.enqueue(1);
    window.pause(2_000);
    const second = window.enqueue(1);
    // After the pause, calls resume at the pace (one per 200 ms here), not with a burst.
    expect(window.waitMs(first)).toBe(2_200);
    expect(window.waitMs(second)).toBe(2_400);
    clock.now += 1_000;
    window.pause(500);
    expect(window.pausedUntil - clock.now).toBe(1_000);
    clock.now += 1_200;
    expect(window.waitMs(first)).toBe(0);
  });

  it("does not wait when unlimited, unless paused", () => {
    const { window, clock } = limiterAt(0, 1_000);
    expect(window.unlimited).toBe(true);
    for (let call = 0; call < 1_000; call++) {
      const ticket = window.enqueue(1);
      expect(window.waitMs(ticket)).toBe(0);
      window.take(ticket);
    }
    const paused = window.enqueue(1);
    window.pause(1_500);
    expect(window.waitMs(paused)).toBe(1_500);
    clock.now += 1_500;
    expect(window.waitMs(paused)).toBe(0);
  });

  it("counts a call dearer than the whole limit as the whole limit", () => {
    const { window } = limiterAt(1, 1_000);
    const ticket = window.enqueue(2);
    expect(window.waitMs(ticket)).toBe(0);
    window.take(ticket);
    expect(window.held).toBe(1);
  });

  it("gives a released call that made no request back to the window and the pace, once, and never a settled one", () => {
    // Burst 1, one call a second: a second call right after the first would wait a second.
    const { window } = limiterAt(10, 10_000);
    const first = window.take(window.enqueue(1));
    window.release(first);
    window.release(first);
    expect(window.held).toBe(0);
    const second = window.enqueue(1);
    expect(window.waitMs(second)).toBe(0);
    const answered = window.take(second);
    window.settle(answered);
    window.release(answered);
    expect(window.held).toBe(1);
    expect(window.waitMs(window.enqueue(1))).toBe(1_000);
  });

  it("rejects limits that are not a count per positive window, and negative margins", () => {
    expect(() => new SlidingWindowLimiter({ limit: -1, windowMs: 1_000 })).toThrow(RangeError);
    expect(() => new SlidingWindowLimiter({ limit: 10, windowMs: 0 })).toThrow(RangeError);
    expect(() => new SlidingWindowLimiter({ limit: Number.NaN, windowMs: 1_000 })).toThrow(RangeError);
    expect(() => new SlidingWindowLimiter({ limit: 10, windowMs: 1_000 }, { marginMs: -1 })).toThrow(RangeError);
    expect(() => limiterAt(1, 1_000).window.waitMs({ cost: 1 })).toThrow(RangeError);
  });
});
