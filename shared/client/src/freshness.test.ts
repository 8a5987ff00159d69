import { describe, expect, it } from "vitest";
import { freshness, servableStale } from "./freshness.ts";

const settings = { ttlMs: 1_000, refreshAhead: 0.8, maxStalenessMs: 5_000 };

describe("freshness", () => {
  it.each([
    [0, "fresh"],
    [799, "fresh"],
    [800, "refresh-ahead"],
    [999, "refresh-ahead"],
    [1_000, "expired"],
    [60_000, "expired"],
  ] as const)("an entry confirmed %i ms ago is %s", (age, expected) => {
    expect(freshness(10_000, 10_000 + age, settings)).toBe(expected);
  });

  it("serves an expired value only within the maximum staleness past the TTL", () => {
    expect(servableStale(0, 5_999, settings)).toBe(true);
    expect(servableStale(0, 6_000, settings)).toBe(false);
  });
});
