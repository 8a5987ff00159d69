import { describe, expect, it } from "vitest";
import { leaseTiming } from "./kv-lease.ts";

describe("leaseTiming", () => {
  it("renews three times per TTL and counts the lease valid until TTL less a fifth", () => {
    expect(leaseTiming(30_000)).toEqual({ renewEveryMs: 10_000, marginMs: 6_000 });
    expect(leaseTiming(3_000)).toEqual({ renewEveryMs: 1_000, marginMs: 600 });
  });

  it("always renews well before the lease stops counting as valid", () => {
    for (const ttl of [1_000, 1_500, 3_000, 10_000, 30_000, 600_000]) {
      const { renewEveryMs, marginMs } = leaseTiming(ttl);
      // Two renewals fit in the validity, so one slow renewal does not lose the lease.
      expect(2 * renewEveryMs).toBeLessThanOrEqual(ttl - marginMs);
      expect(marginMs).toBeGreaterThanOrEqual(250);
    }
  });
});
