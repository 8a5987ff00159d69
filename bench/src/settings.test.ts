import { describe, expect, it } from "vitest";
import { UsageError, parseSettings, usageOf } from "./settings.ts";

const table = {
  rates: { kind: "ints", default: [5, 20], quick: [5], min: 1, max: 100, env: "BENCH_RATES", help: "rates" },
  duration: { kind: "int", default: 20, quick: 5, min: 1, max: 60, env: "BENCH_DURATION", help: "seconds" },
  profile: { kind: "path", env: "BENCH_PROFILE", help: "a directory" },
} as const;

describe("parseSettings", () => {
  it("takes flags first, then the environment, then the defaults", () => {
    expect(parseSettings(table, [], {}).values).toEqual({ rates: [5, 20], duration: 20, profile: undefined });
    expect(parseSettings(table, [], { BENCH_RATES: "1,2,3", BENCH_DURATION: "7", BENCH_PROFILE: "/tmp/p" }).values).toEqual({
      rates: [1, 2, 3],
      duration: 7,
      profile: "/tmp/p",
    });
    expect(parseSettings(table, ["--duration", "9", "--rates", "50"], { BENCH_DURATION: "7" }).values).toMatchObject({ rates: [50], duration: 9 });
  });

  it("uses the quick values under --quick, unless a setting is given", () => {
    expect(parseSettings(table, ["--quick"], {})).toEqual({ values: { rates: [5], duration: 5, profile: undefined }, quick: true });
    expect(parseSettings(table, ["--quick", "--duration", "12"], {}).values.duration).toBe(12);
  });

  it("refuses what is not a whole number in range, and unknown flags, naming the setting", () => {
    expect(() => parseSettings(table, ["--duration", "0"], {})).toThrow(new UsageError('--duration / BENCH_DURATION must be a whole number from 1 to 60, got "0"'));
    expect(() => parseSettings(table, [], { BENCH_DURATION: "1.5" })).toThrow(UsageError);
    expect(() => parseSettings(table, ["--rates", "5,,20"], {})).toThrow(/--rates/);
    expect(() => parseSettings(table, ["--rates", "5,101"], {})).toThrow(/from 1 to 100/);
    expect(() => parseSettings(table, ["--speed", "9"], {})).toThrow(UsageError);
  });

  it("describes every setting with its default and quick value", () => {
    expect(usageOf(table)).toEqual([
      "  --rates / BENCH_RATES: rates (default 5,20; --quick 5)",
      "  --duration / BENCH_DURATION: seconds (default 20; --quick 5)",
      "  --profile / BENCH_PROFILE: a directory",
    ]);
  });
});
