import { describe, expect, it, vi } from "vitest";
import { CachedCredential, type Expiring, type RefreshPolicy } from "./cached-token.ts";

const MINUTE = 60_000;
const T0 = Date.parse("2025-06-01T12:00:00Z");
const policy: RefreshPolicy = { marginMs: 5 * MINUTE, marginFraction: 0.2 };

interface Credential extends Expiring {
  serial: number;
}

/** A clock the test moves, and a fetch that issues credentials valid for `lifetimeMs` from now. */
function setup(lifetimeMs: number) {
  let now = T0;
  let serial = 0;
  const fetch = vi.fn(async (): Promise<Credential> => ({ serial: ++serial, expiresAt: new Date(now + lifetimeMs) }));
  const cache = new CachedCredential(fetch, policy, () => now);
  return {
    cache,
    fetch,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("CachedCredential", () => {
  it("fetches once for many concurrent callers", async () => {
    let release!: (value: Credential) => void;
    const fetch = vi.fn(() => new Promise<Credential>((resolve) => (release = resolve)));
    const cache = new CachedCredential(fetch, policy, () => T0);
    const callers = Array.from({ length: 20 }, () => cache.get());
    release({ serial: 1, expiresAt: new Date(T0 + 60 * MINUTE) });
    const results = await Promise.all(callers);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(new Set(results).size).toBe(1);
  });

  it("serves the cached credential until the refresh margin", async () => {
    const { cache, fetch, advance } = setup(60 * MINUTE);
    await cache.get();
    advance(55 * MINUTE - 1);
    expect((await cache.get()).serial).toBe(1);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("refreshes a long-lived credential marginMs before expiry", async () => {
    // 60 min lifetime: min(5 min, 20% of 60 min) = 5 min.
    const { cache, fetch, advance } = setup(60 * MINUTE);
    await cache.get();
    advance(55 * MINUTE);
    expect((await cache.get()).serial).toBe(2);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("refreshes a short-lived credential a fraction of its lifetime before expiry", async () => {
    // 10 min lifetime: min(5 min, 20% of 10 min) = 2 min, so not at 5 min before expiry.
    const { cache, fetch, advance } = setup(10 * MINUTE);
    await cache.get();
    advance(5 * MINUTE);
    expect((await cache.get()).serial).toBe(1);
    advance(3 * MINUTE - 1);
    expect((await cache.get()).serial).toBe(1);
    advance(1);
    expect((await cache.get()).serial).toBe(2);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("calls the source about once per lifetime over a day of constant use", async () => {
    const { cache, fetch, advance } = setup(60 * MINUTE);
    for (let minute = 0; minute < 24 * 60; minute++) {
      await cache.get();
      advance(MINUTE);
    }
    // One fetch per 55 minutes of use.
    expect(fetch).toHaveBeenCalledTimes(Math.ceil((24 * 60) / 55));
  });

  it("shares one refresh among the callers that find the credential due", async () => {
    const { cache, fetch, advance } = setup(60 * MINUTE);
    await cache.get();
    advance(58 * MINUTE);
    const results = await Promise.all([cache.get(), cache.get(), cache.get()]);
    expect(results.map((r) => r.serial)).toEqual([2, 2, 2]);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("fetches again after invalidate, e.g. when the server rejected the credential", async () => {
    const { cache, fetch } = setup(60 * MINUTE);
    await cache.get();
    cache.invalidate();
    expect((await cache.get()).serial).toBe(2);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("keeps serving a still-valid credential when a refresh inside the margin fails, and retries next call", async () => {
    const { cache, fetch, advance } = setup(60 * MINUTE);
    const first = await cache.get();
    advance(57 * MINUTE); // inside the 5-minute margin, 3 minutes before expiry
    fetch.mockRejectedValueOnce(new Error("sts unreachable"));
    await expect(cache.get()).resolves.toBe(first);
    const second = await cache.get();
    expect(second.serial).toBe(2);
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  it("fails once the cached credential has expired and the refresh fails", async () => {
    const { cache, fetch, advance } = setup(60 * MINUTE);
    await cache.get();
    advance(61 * MINUTE);
    fetch.mockRejectedValueOnce(new Error("sts unreachable"));
    await expect(cache.get()).rejects.toThrow("sts unreachable");
  });

  it("does not cache a failed fetch: the next call tries again", async () => {
    const outage = new Error("sts unavailable");
    const fetch = vi
      .fn<() => Promise<Credential>>()
      .mockRejectedValueOnce(outage)
      .mockResolvedValueOnce({ serial: 1, expiresAt: new Date(T0 + 60 * MINUTE) });
    const cache = new CachedCredential(fetch, policy, () => T0);
    await expect(cache.get()).rejects.toBe(outage);
    expect((await cache.get()).serial).toBe(1);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("fails every concurrent caller of a failed fetch with one call to the source", async () => {
    const fetch = vi.fn(async (): Promise<Credential> => {
      throw new Error("denied");
    });
    const cache = new CachedCredential(fetch, policy, () => T0);
    const results = await Promise.allSettled([cache.get(), cache.get(), cache.get()]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("never serves a credential that was already expired when fetched", async () => {
    let serial = 0;
    const fetch = vi.fn(async (): Promise<Credential> => ({ serial: ++serial, expiresAt: new Date(T0 - 1) }));
    const cache = new CachedCredential(fetch, policy, () => T0);
    await cache.get();
    await cache.get();
    expect(fetch).toHaveBeenCalledTimes(2);
  });
});
