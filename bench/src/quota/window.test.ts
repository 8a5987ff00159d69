import { describe, expect, it } from "vitest";
import { SlidingWindow, peakInWindow } from "./window.ts";

describe("SlidingWindow", () => {
  it("admits at most the limit in any window, and admits again once the oldest leaves it", () => {
    const window = new SlidingWindow(3, 1_000);
    expect([0, 100, 200].map((at) => window.admit(at))).toEqual([true, true, true]);
    expect(window.admit(500)).toBe(false);
    expect(window.admit(999)).toBe(false);
    // The window ending at 1000 is (0, 1000]: the admission at 0 has left it.
    expect(window.admit(1_000)).toBe(true);
    expect(window.admit(1_050)).toBe(false);
    expect(window.admit(1_100)).toBe(true);
  });

  it("does not count refused requests", () => {
    const window = new SlidingWindow(1, 1_000);
    expect(window.admit(0)).toBe(true);
    for (let at = 1; at < 1_000; at += 10) expect(window.admit(at)).toBe(false);
    expect(window.admit(1_000)).toBe(true);
  });
});

describe("peakInWindow", () => {
  it("finds the most events in any window", () => {
    expect(peakInWindow([], 1_000)).toBe(0);
    expect(peakInWindow([0], 1_000)).toBe(1);
    expect(peakInWindow([0, 10, 20, 1_500, 1_600, 1_700, 1_800, 3_000], 1_000)).toBe(4);
    // The window is half-open: events 1000 ms apart are in different windows.
    expect(peakInWindow([0, 1_000, 2_000], 1_000)).toBe(1);
  });
});
