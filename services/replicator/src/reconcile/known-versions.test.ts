import { describe, expect, it } from "vitest";
import { SERVED_AT_ALLOWANCE_MS, listedUntil } from "./known-versions.ts";

const at = (iso: string): Date => new Date(iso);

describe("listedUntil: how far the vault's clock had come when a listing ended", () => {
  it("is the listing's latest timestamp: a current version's creation or a deletion", () => {
    expect(
      listedUntil([
        { name: "a", state: "active", tags: {}, createdAt: at("2026-12-07T03:00:01Z"), currentCreatedAt: at("2026-12-07T03:00:01Z") },
        { name: "b", state: "deleted", tags: {}, createdAt: at("2026-12-07T02:00:00Z"), deletedAt: at("2026-12-07T03:00:04Z") },
      ]),
    ).toBe(at("2026-12-07T03:00:04Z").getTime());
  });

  it("counts the time the vault said it served the listing, less the allowance for its servers' clocks", () => {
    const servedAt = at("2026-12-07T03:10:00Z");
    expect(listedUntil([{ name: "a", state: "active", tags: {}, currentCreatedAt: at("2026-12-07T03:00:01Z"), servedAt }])).toBe(servedAt.getTime() - SERVED_AT_ALLOWANCE_MS);
    // Served within the allowance of the newest creation: the creation stays the bound.
    expect(listedUntil([{ name: "a", state: "active", tags: {}, currentCreatedAt: at("2026-12-07T03:00:01Z"), servedAt: at("2026-12-07T03:00:03Z") }])).toBe(
      at("2026-12-07T03:00:01Z").getTime(),
    );
  });

  it("knows nothing of an empty listing", () => {
    expect(listedUntil([])).toBeUndefined();
  });
});
