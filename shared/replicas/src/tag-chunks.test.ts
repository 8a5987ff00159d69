import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TAG_VALUE_MAX, joinTagValue, splitTagValue } from "./tag-chunks.ts";

const AWS_ALPHABET = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+=.@-"];
const value512 = fc.string({ unit: fc.constantFrom(...AWS_ALPHABET), maxLength: 512 });

describe("splitTagValue / joinTagValue", () => {
  it("round-trips any value up to 512 characters in parts of at most 256", () => {
    fc.assert(
      fc.property(value512, (value) => {
        const tags = splitTagValue("credmesh-origin-name", value);
        for (const part of Object.values(tags)) expect(part.length).toBeLessThanOrEqual(TAG_VALUE_MAX);
        expect(joinTagValue("credmesh-origin-name", tags)).toBe(value);
      }),
      { numRuns: 1_000 },
    );
  });

  it("uses one tag up to 256 characters and a second one beyond", () => {
    expect(Object.keys(splitTagValue("origin", "a".repeat(256)))).toEqual(["origin"]);
    const two = splitTagValue("origin", `${"a".repeat(256)}b`);
    expect(two).toStrictEqual({ origin: "a".repeat(256), "origin-2": "b" });
  });

  it("keeps an empty value as one empty tag", () => {
    expect(splitTagValue("origin", "")).toStrictEqual({ origin: "" });
    expect(joinTagValue("origin", { origin: "" })).toBe("");
  });

  it("refuses a value that needs more parts than allowed", () => {
    expect(() => splitTagValue("origin", "a".repeat(513))).toThrow(RangeError);
    expect(() => splitTagValue("origin", "a".repeat(513))).toThrow("tag origin needs more than 2 parts");
  });

  it("splits over more parts when allowed", () => {
    const value = "x".repeat(700);
    const tags = splitTagValue("origin", value, 3);
    expect(Object.keys(tags)).toEqual(["origin", "origin-2", "origin-3"]);
    expect(joinTagValue("origin", tags)).toBe(value);
  });

  it("reads back among other tags, and undefined when the tag is absent", () => {
    const tags = { "managed-by": "credmesh", ...splitTagValue("origin", "n".repeat(300)), "origin-version": "v1" };
    expect(joinTagValue("origin", tags)).toBe("n".repeat(300));
    expect(joinTagValue("missing", tags)).toBeUndefined();
  });
});
