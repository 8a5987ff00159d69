import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeStamp, encodeStamp, mutationDigest } from "./stamp.ts";

describe("write stamps", () => {
  const kvVersion = "0123456789abcdef0123456789abcdef";

  it("fits Secrets Manager's ClientRequestToken (32–64 characters) for a Key Vault origin version", () => {
    const stamp = encodeStamp({ originCloud: "azure", originVersion: kvVersion, originCreatedAt: new Date("2026-12-01T10:00:00Z"), mutation: mutationDigest("evt-1") });
    expect(stamp.length).toBeGreaterThanOrEqual(32);
    expect(stamp.length).toBeLessThanOrEqual(64);
    expect(stamp).toMatch(/^[0-9a-z-]+$/);
  });

  it("round-trips origin cloud, version (dashes included), creation second and mutation", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("aws" as const, "azure" as const),
        fc.stringMatching(/^[0-9A-Za-z-]{1,64}$/),
        fc.integer({ min: 1, max: 4_000_000_000 }),
        fc.string({ minLength: 1, maxLength: 80 }),
        (originCloud, originVersion, seconds, eventId) => {
          const mutation = mutationDigest(eventId);
          const decoded = decodeStamp(encodeStamp({ originCloud, originVersion, originCreatedAt: new Date(seconds * 1000 + 999), mutation }));
          expect(decoded).toEqual({ originCloud, originVersion, originCreatedAt: new Date(Math.min(seconds, 0xffffffff) * 1000), mutation });
        },
      ),
    );
  });

  it("reads anything else — a person's version id, no stamp — as not credmesh's", () => {
    for (const text of [undefined, "", "b4443c99-dd1a-47c8-8de1-5f3a3e4de962", kvVersion, "cm1-x-00000000-0123456789abcdef-v", "cm1-a-0000000-0123456789abcdef-v"]) {
      expect(decodeStamp(text)).toBeUndefined();
    }
  });

  it("gives every delivery of one event the same mutation digest, and different events different ones", () => {
    expect(mutationDigest("evt-1")).toBe(mutationDigest("evt-1"));
    expect(mutationDigest("evt-1")).not.toBe(mutationDigest("evt-2"));
    expect(mutationDigest("evt-1")).toMatch(/^[0-9a-f]{16}$/);
  });
});
