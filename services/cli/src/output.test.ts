import { describe, expect, it } from "vitest";
import { clean, formatBytes, formatTime, table } from "./output.ts";

describe("output", () => {
  it("neutralises control characters from bus data before they reach a terminal", () => {
    expect(clean("prod/db\u001b[2J\r\nname")).toBe("prod/db?[2J??name");
    expect(clean(undefined)).toBe("-");
    expect(clean("")).toBe("-");
    expect(clean(0)).toBe("0");
  });

  it("aligns columns and shows missing cells as a dash", () => {
    expect(table(["A", "LONGER"], [["x", 1], [undefined, "yy"], ["zzzz"]])).toBe(["A     LONGER", "x     1", "-     yy", "zzzz  -"].join("\n"));
  });

  it("formats times to the second in UTC and sizes in binary units", () => {
    expect(formatTime("2025-06-02T16:03:11.456+02:00")).toBe("2025-06-02T14:03:11Z");
    expect(formatTime("not a time")).toBe("not a time");
    expect(formatTime(undefined)).toBeUndefined();
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MiB");
  });
});
