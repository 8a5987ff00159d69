import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TokenBucket } from "./token-bucket.ts";

/** A bucket on a hand-driven clock. */
function bucketAt(limit: number, windowMs: number): { bucket: TokenBucket; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  return { bucket: new TokenBucket({ limit, windowMs }, () => clock.now), clock };
}

/** Most calls that fall into any window of `windowMs`, given the times they were made. */
function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= windowMs - 1e-6) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

describe("TokenBucket", () => {
  it("lets a tenth of the limit through at once, then spaces calls out", () => {
    const { bucket } = bucketAt(40, 1_000);
    const waits = Array.from({ length: 6 }, () => bucket.reserve(1));
    expect(waits.slice(0, 4)).toEqual([0, 0, 0, 0]);
    // 36 more per second after the burst of 4: one every 1000/36 ms.
    expect(waits[4]).toBeCloseTo(1_000 / 36, 5);
    expect(waits[5]).toBeCloseTo(2_000 / 36, 5);
  });

  it("never admits more than the limit in any window, whatever the arrival pattern", () => {
    // Costs stay within the burst (a tenth of the limit), as the vault operations' costs do.
    fc.assert(
      fc.property(
        fc.integer({ min: 30, max: 500 }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 400 }), cost: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 400 }),
        (limit, arrivals) => {
          const { bucket, clock } = bucketAt(limit, 1_000);
          const calls: number[] = [];
          for (const { gap, cost } of arrivals) {
            clock.now += gap;
            const at = clock.now + bucket.reserve(cost);
            for (let unit = 0; unit < cost; unit++) calls.push(at);
          }
          expect(busiestWindow(calls, 1_000)).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("holds for small limits with calls of one token", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 30 }), fc.array(fc.integer({ min: 0, max: 900 }), { minLength: 1, maxLength: 200 }), (limit, gaps) => {
        const { bucket, clock } = bucketAt(limit, 1_000);
        const calls = gaps.map((gap) => {
          clock.now += gap;
          return clock.now + bucket.reserve(1);
        });
        expect(busiestWindow(calls, 1_000)).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 200 },
    );
  });

  it("sustains the limit less its burst share over a long run", () => {
    const { bucket } = bucketAt(3_000, 10_000);
    let last = 0;
    for (let call = 0; call < 30_000; call++) last = bucket.reserve(1);
    // 300 at once, then 2,700 per 10 s for the remaining 29,700.
    expect(last).toBeCloseTo((29_700 / 2_700) * 10_000, 0);
  });

  it("gives tokens back when a reservation is abandoned", () => {
    const { bucket } = bucketAt(10, 1_000);
    expect(bucket.reserve(1)).toBe(0);
    const wait = bucket.reserve(1);
    expect(wait).toBeGreaterThan(0);
    bucket.refund(1);
    expect(bucket.reserve(1)).toBe(wait);
  });

  it("does not wait when unlimited, unless paused", () => {
    const { bucket, clock } = bucketAt(0, 1_000);
    expect(bucket.unlimited).toBe(true);
    for (let call = 0; call < 10_000; call++) expect(bucket.reserve(1)).toBe(0);
    bucket.pause(1_500);
    expect(bucket.reserve(1)).toBe(1_500);
    clock.now += 1_500;
    expect(bucket.reserve(1)).toBe(0);
  });

  it("hands out nothing during a pause and resumes at the refill rate, not with a burst", () => {
    const { bucket, clock } = bucketAt(40, 1_000);
    bucket.pause(2_000);
    expect(bucket.reserve(1)).toBeCloseTo(2_000 + 1_000 / 36, 5);
    clock.now += 5_000;
    // Long after the pause the bucket has refilled as usual.
    expect(bucket.tokens).toBe(bucket.capacity);
  });

  it("extends a running pause but never shortens it", () => {
    const { bucket, clock } = bucketAt(0, 1_000);
    bucket.pause(3_000);
    clock.now += 1_000;
    bucket.pause(500);
    expect(bucket.pausedUntil - clock.now).toBe(2_000);
    bucket.pause(4_000);
    expect(bucket.pausedUntil - clock.now).toBe(4_000);
  });

  it("rejects limits that are not a count per positive window", () => {
    expect(() => new TokenBucket({ limit: -1, windowMs: 1_000 })).toThrow(RangeError);
    expect(() => new TokenBucket({ limit: 10, windowMs: 0 })).toThrow(RangeError);
    expect(() => new TokenBucket({ limit: Number.NaN, windowMs: 1_000 })).toThrow(RangeError);
  });
});
