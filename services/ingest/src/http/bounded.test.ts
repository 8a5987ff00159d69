import { describe, expect, it } from "vitest";
import { settleBounded } from "./bounded.ts";

describe("settleBounded", () => {
  it("settles every item in input order with at most `limit` in flight", async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await settleBounded([5, 1, 4, 2, 3, 0], 3, async (delay) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, delay));
      inFlight--;
      return delay * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30, 0].map((value) => ({ state: "fulfilled", value })));
    expect(peak).toBe(3);
  });

  it("starts nothing new after a failure, lets running tasks finish, and marks the rest skipped", async () => {
    const started: number[] = [];
    const results = await settleBounded([0, 1, 2, 3, 4], 2, async (item) => {
      started.push(item);
      await new Promise((resolve) => setTimeout(resolve, item === 0 ? 1 : 20));
      if (item === 0) throw new Error("bus down");
      return item;
    });
    expect(started).toEqual([0, 1]);
    expect(results).toEqual([
      { state: "rejected", error: new Error("bus down") },
      { state: "fulfilled", value: 1 },
      { state: "skipped" },
      { state: "skipped" },
      { state: "skipped" },
    ]);
  });

  it("handles an empty list", async () => {
    expect(await settleBounded([], 4, () => Promise.resolve(1))).toEqual([]);
  });
});
