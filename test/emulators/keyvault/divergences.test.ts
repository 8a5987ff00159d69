/**
 * The behaviours of the real Key Vault that a replicator can observe and that an emulator tuned for
 * convenience would hide (README.md "Behaviours and their sources"), each checked on the wire with
 * raw HTTPS: recovery that reads before it writes, deletes that take seconds to show, 429 without
 * Retry-After, empty version lists, empty pages with a nextLink, purge protection, unknown
 * api-versions and wrong methods.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKeyVaultEmulator } from "./emulator.ts";
import type { KeyVaultEmulator, KeyVaultEmulatorOptions } from "./emulator.ts";
import { httpsJson, until } from "./test-client.ts";
import type { RawResponse } from "./test-client.ts";

const here = import.meta.dirname;
const fixture = (name: string): unknown => JSON.parse(readFileSync(`${here}/fixtures/${name}`, "utf8"));


type Kv = (method: string, path: string, body?: unknown, apiVersion?: string) => Promise<RawResponse>;

/** An emulator and a raw client holding a managed-identity token for it. */
async function vault(options: KeyVaultEmulatorOptions): Promise<{ emulator: KeyVaultEmulator; kv: Kv }> {
  const emulator = await startKeyVaultEmulator(options);
  const ca = readFileSync(emulator.caCertPath);
  const tokenResponse = await httpsJson(`${emulator.tokenEndpoint}?api-version=2018-02-01&resource=https://vault.azure.net`, {
    ca,
    headers: { Metadata: "true" },
  });
  const token = (tokenResponse.body as { access_token: string }).access_token;
  const kv = (method: string, path: string, body?: unknown, apiVersion = "7.5"): Promise<RawResponse> => {
    const url = path.startsWith("https://") ? path : `${emulator.vaultUrl}${path}${path.includes("?") ? "&" : "?"}api-version=${apiVersion}`;
    return httpsJson(url, {
      ca,
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  };
  return { emulator, kv };
}

/** Runs `body` against a fresh emulator with `options`, and stops it afterwards. */
async function withVault(options: KeyVaultEmulatorOptions, body: (emulator: KeyVaultEmulator, kv: Kv) => Promise<void>): Promise<void> {
  const { emulator, kv } = await vault(options);
  try {
    await body(emulator, kv);
  } finally {
    await emulator.stop();
  }
}

/** One emulator for the enclosing describe block, started before its tests and stopped after. */
function sharedVault(options: KeyVaultEmulatorOptions): { emulator: KeyVaultEmulator; kv: Kv } {
  const shared = {} as { emulator: KeyVaultEmulator; kv: Kv };
  beforeAll(async () => {
    Object.assign(shared, await vault(options));
  });
  afterAll(async () => {
    await shared.emulator.stop();
  });
  return shared;
}

/** Follows `nextLink` from `first` to the end; the ids' last segments and each page's shape. */
async function listAll(kv: Kv, first: string): Promise<{ ids: string[]; pages: Array<{ size: number; next: boolean }> }> {
  const ids: string[] = [];
  const pages: Array<{ size: number; next: boolean }> = [];
  let next: string | null = first;
  while (next !== null) {
    const page = (await kv("GET", next)).body as { value: Array<{ id: string }>; nextLink: string | null };
    pages.push({ size: page.value.length, next: page.nextLink !== null });
    ids.push(...page.value.map((item) => item.id.split("/").at(-1) ?? ""));
    next = page.nextLink;
  }
  return { ids, pages };
}

describe("Key Vault emulator: asynchronous delete and recovery with the service's timing", () => {
  const shared = sharedVault({ deletionDelayMs: 1_500, recoveryReadDelayMs: 500, recoveryWriteDelayMs: 5_000 });
  const kv: Kv = (...args) => shared.kv(...args);

  it("defaults to the service's timing: a delete shows after 4.5 s, a recovery reads after 1 s and writes after 3 s", async () => {
    await withVault({}, async (defaults) => {
      expect(defaults.settings).toMatchObject({ deletionDelayMs: 4_500, recoveryReadDelayMs: 1_000, recoveryWriteDelayMs: 3_000 });
    });
  });

  it("shows a deleted secret under /deletedsecrets only once the delete has finished", async () => {
    await kv("PUT", "/secrets/slow-delete", { value: "v" });
    const deletedAt = Date.now();
    expect((await kv("DELETE", "/secrets/slow-delete")).status).toBe(200);

    // In flight: gone from /secrets, not yet under /deletedsecrets, the name still blocked.
    expect((await kv("GET", "/secrets/slow-delete")).status).toBe(404);
    expect(await kv("GET", "/deletedsecrets/slow-delete")).toMatchObject({ status: 404, body: { error: { code: "SecretNotFound" } } });
    const listed = (await kv("GET", "/deletedsecrets")).body as { value: Array<{ recoveryId: string }> };
    expect(listed.value.map((item) => item.recoveryId)).not.toContain(`${shared.emulator.vaultUrl}/deletedsecrets/slow-delete`);
    expect(await kv("PUT", "/secrets/slow-delete", { value: "v2" })).toMatchObject({ status: 409, body: { error: { innererror: { code: "ObjectIsBeingDeleted" } } } });
    expect(await kv("POST", "/deletedsecrets/slow-delete/recover")).toMatchObject({ status: 409, body: { error: { innererror: { code: "ObjectIsBeingDeleted" } } } });

    await until(async () => (await kv("GET", "/deletedsecrets/slow-delete")).status === 200);
    expect(Date.now() - deletedAt).toBeGreaterThanOrEqual(1_500);
    expect(await kv("PUT", "/secrets/slow-delete", { value: "v2" })).toMatchObject({
      status: 409,
      body: { error: { innererror: { code: "ObjectIsDeletedButRecoverable" } } },
    });
  });

  it("answers GET 200 after a recovery while a PUT still answers 409 ObjectIsBeingRecovered", async () => {
    await kv("PUT", "/secrets/slow-recover", { value: "v" });
    await kv("DELETE", "/secrets/slow-recover");
    await until(async () => (await kv("GET", "/deletedsecrets/slow-recover")).status === 200);

    const recoveredAt = Date.now();
    expect((await kv("POST", "/deletedsecrets/slow-recover/recover")).status).toBe(200);
    expect((await kv("GET", "/secrets/slow-recover")).status).toBe(404);
    await until(async () => (await kv("GET", "/secrets/slow-recover")).status === 200);

    // Readable, yet not writable: the state a client that trusts its recover poller trips over.
    const refused = await kv("PUT", "/secrets/slow-recover", { value: "v2" });
    expect(refused).toMatchObject({
      status: 409,
      body: { error: { code: "Conflict", innererror: { code: "ObjectIsBeingRecovered" } } },
    });
    expect((await kv("GET", "/secrets/slow-recover")).body).toMatchObject({ value: "v" });

    await until(async () => (await kv("PUT", "/secrets/slow-recover", { value: "v2" })).status === 200);
    expect(Date.now() - recoveredAt).toBeGreaterThanOrEqual(5_000);
    expect((await kv("GET", "/secrets/slow-recover")).body).toMatchObject({ value: "v2" });
  });
});

describe("Key Vault emulator: throttling", () => {
  it("answers 429 Throttled without Retry-After by default, does not count refused requests, and recovers", async () => {
    await withVault({ throttle: { limit: 3, windowMs: 1_500 } }, async (emulator, kv) => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await kv("GET", "/secrets")).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const throttled = await kv("GET", "/secrets/x");
      expect(throttled.status).toBe(429);
      expect(throttled.body).toEqual(fixture("azure-keyvault-error-429-throttled.json"));
      expect(throttled.headers["retry-after"]).toBeUndefined();

      // Refused requests do not count: once the accepted ones leave the window, calls pass again.
      await until(async () => (await kv("GET", "/secrets")).status === 200);
      const log = emulator.requests().filter((request) => request.operation === "Throttled");
      expect(log.length).toBeGreaterThanOrEqual(3);
      expect(log.every((request) => request.status === 429 && request.code === "Throttled" && request.retryAfter === undefined)).toBe(true);
    });
  });

  it("sends Retry-After when configured to", async () => {
    await withVault({ throttle: { limit: 1, windowMs: 60_000, retryAfterSeconds: 7 } }, async (_emulator, kv) => {
      await kv("GET", "/secrets");
      expect(await kv("GET", "/secrets")).toMatchObject({ status: 429, headers: { "retry-after": "7" } });
    });
  });

  it("takes new limits at run time, counting what it already accepted", async () => {
    await withVault({}, async (emulator, kv) => {
      await kv("GET", "/secrets");
      await kv("GET", "/secrets");
      expect(emulator.setThrottle({ limit: 2, windowMs: 60_000 })).toEqual({ limit: 4_000, windowMs: 10_000 });
      expect((await kv("GET", "/secrets")).status).toBe(429);
      emulator.setThrottle({ limit: 3, windowMs: 60_000 });
      expect((await kv("GET", "/secrets")).status).toBe(200);
      expect(() => emulator.setThrottle({ limit: 0, windowMs: 1 })).toThrow(/throttle.limit/);
    });
  });

  it("defaults to the service's limit of 4,000 transactions per 10 s per vault, without Retry-After", async () => {
    await withVault({}, async (emulator) => {
      expect(emulator.settings.throttle).toEqual({ limit: 4_000, windowMs: 10_000 });
    });
  });
});

describe("Key Vault emulator: listings", () => {
  const shared = sharedVault({});
  const kv: Kv = (...args) => shared.kv(...args);

  it("answers the versions of a secret that does not exist with 200 and an empty list, not 404", async () => {
    const res = await kv("GET", "/secrets/never-created/versions");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ value: [], nextLink: null });
  });

  it("serves empty pages that carry a nextLink, and every item exactly once across the pages", async () => {
    const names = Array.from({ length: 7 }, (_, i) => `empty-pages-${i}`);
    for (const name of names) await kv("PUT", `/secrets/${name}`, { value: "v" });
    const { ids, pages } = await listAll(kv, `${shared.emulator.vaultUrl}/secrets?api-version=7.5&maxresults=2`);
    // Pages 1, 4, 7… are empty while items remain (the default every third page, the first included).
    expect(pages[0]).toEqual({ size: 0, next: true });
    expect(pages.filter((page) => page.size === 0).every((page) => page.next)).toBe(true);
    expect(pages.filter((page) => page.size === 0).length).toBeGreaterThanOrEqual(2);
    expect(ids.sort()).toEqual([...names].sort());
    expect(shared.emulator.requests().some((request) => request.operation === "GetSecrets" && request.page?.items === 0 && request.page.nextLink)).toBe(true);
  });

  it("lists versions by version id, not by creation", async () => {
    const created: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await kv("PUT", "/secrets/many-versions", { value: `v${i}` });
      created.push((res.body as { id: string }).id.split("/").at(-1) ?? "");
    }
    const { ids } = await listAll(kv, `${shared.emulator.vaultUrl}/secrets/many-versions/versions?api-version=7.5`);
    expect(ids).toEqual([...created].sort());
  });
});

describe("Key Vault emulator: purge protection", () => {
  it("reports recovery levels without +Purgeable and refuses purge with 403", async () => {
    await withVault({ purgeProtection: true, deletionDelayMs: 200 }, async (_emulator, kv) => {
      const set = await kv("PUT", "/secrets/protected", { value: "v" });
      expect(set.body).toMatchObject({ attributes: { recoveryLevel: "Recoverable", recoverableDays: 90 } });
      await kv("DELETE", "/secrets/protected");
      await until(async () => (await kv("GET", "/deletedsecrets/protected")).status === 200);
      const purge = await kv("DELETE", "/deletedsecrets/protected");
      expect(purge).toMatchObject({ status: 403, body: { error: { code: "Forbidden" } } });
      expect((purge.body as { error: { message: string } }).error.message).toMatch(/^Operation "purge" is not allowed because purge protection is enabled/);
      // Still there, still recoverable.
      expect((await kv("GET", "/deletedsecrets/protected")).status).toBe(200);
    });
  });

  it("reads CustomizedRecoverable for a shortened retention, with or without +Purgeable", async () => {
    for (const [purgeProtection, level] of [[true, "CustomizedRecoverable"], [false, "CustomizedRecoverable+Purgeable"]] as const) {
      await withVault({ purgeProtection, softDeleteRetentionDays: 7 }, async (_emulator, kv) => {
        const set = await kv("PUT", "/secrets/retention", { value: "v" });
        expect(set.body).toMatchObject({ attributes: { recoveryLevel: level, recoverableDays: 7 } });
      });
    }
  });
});

describe("Key Vault emulator: protocol refusals", () => {
  const shared = sharedVault({});
  const kv: Kv = (...args) => shared.kv(...args);

  it("answers an api-version it does not serve with 400 BadParameter, before routing", async () => {
    for (const path of ["/secrets/any", "/keys/any"]) {
      const res = await kv("GET", path, undefined, "7.9");
      expect(res).toMatchObject({
        status: 400,
        body: { error: { code: "BadParameter", message: "The specified version (7.9) is not recognized. Consider using the latest supported version (2026-04-01)." } },
      });
    }
    // What @azure/keyvault-secrets 4.12 sends, and the versions before it, are served.
    for (const version of ["7.4", "7.6", "2025-07-01", "2026-04-01"]) expect((await kv("GET", "/secrets", undefined, version)).status).toBe(200);
  });

  it("serves only the configured api-versions, like an older vault", async () => {
    await withVault({ apiVersions: ["2016-10-01", "7.0", "7.1"] }, async (_emulator, old) => {
      expect(await old("PUT", "/secrets/x", { value: "v" }, "7.5")).toMatchObject({
        status: 400,
        body: { error: { code: "BadParameter", message: "The specified version (7.5) is not recognized. Consider using the latest supported version (7.1)." } },
      });
      expect((await old("PUT", "/secrets/x", { value: "v" }, "7.1")).status).toBe(200);
    });
  });

  it("answers a method a resource does not have with 405 and Allow", async () => {
    const cases: Array<[string, string, string]> = [
      ["POST", "/secrets/some-secret", "GET, PUT, PATCH, DELETE"],
      ["PUT", "/secrets/some-secret/0123456789abcdef0123456789abcdef", "GET, PATCH"],
      ["DELETE", "/secrets", "GET"],
      ["PUT", "/deletedsecrets/some-secret", "GET, DELETE"],
      ["GET", "/deletedsecrets/some-secret/recover", "POST"],
      ["DELETE", "/secrets/some-secret/versions", "GET"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await kv(method, path, method === "GET" || method === "DELETE" ? undefined : { value: "v" });
      expect({ method, path, status: res.status, allow: res.headers["allow"] }).toEqual({ method, path, status: 405, allow });
      expect(String(res.headers["content-type"])).toMatch(/^application\/json/);
    }
    expect(shared.emulator.stats()["MethodNotAllowed"]).toBe(cases.length);
    // A path the API does not have at all stays 404.
    expect(await kv("GET", "/keys/some-key")).toMatchObject({ status: 404, body: { error: { code: "NotFound" } } });
  });

  it("sends the x-ms-keyvault-* headers of the service on every answer", async () => {
    const res = await kv("GET", "/secrets/absent-for-headers");
    expect(res.headers).toMatchObject({
      "x-ms-keyvault-region": expect.any(String),
      "x-ms-keyvault-service-version": expect.any(String),
      "x-ms-keyvault-network-info": expect.stringMatching(/^conn_type=Ipv4;addr=/),
      "x-ms-request-id": expect.any(String),
    });
  });
});
