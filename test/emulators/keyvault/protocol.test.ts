/**
 * The emulator's wire protocol checked byte for byte with raw HTTPS: the error and response shapes
 * of FORMATS.md §E and its fixtures, paging links, the IMDS endpoint and the token's verifiability.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalJWKSet, jwtVerify } from "jose";
import type { JSONWebKeySet } from "jose";
import { startKeyVaultEmulator } from "./emulator.ts";
import type { KeyVaultEmulator } from "./emulator.ts";
import { httpsJson, until } from "./test-client.ts";
import type { RawResponse } from "./test-client.ts";

const here = import.meta.dirname;
/** Copies of shared/fixtures (FORMATS.md §E); a test below keeps them identical to the originals. */
const fixture = (name: string): unknown => JSON.parse(readFileSync(join(here, "fixtures", name), "utf8"));
const SHARED_FIXTURES = "/work/shared/fixtures";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


describe("Key Vault emulator wire protocol", () => {
  let emulator: KeyVaultEmulator;
  let ca: Buffer;
  let token: string;

  async function imds(query: string, headers: Record<string, string> = { Metadata: "true" }): Promise<RawResponse> {
    return httpsJson(`${emulator.tokenEndpoint}?${query}`, { ca, headers });
  }

  /** One Key Vault call with the managed-identity token; `path` may carry its own query. */
  async function kv(method: string, path: string, body?: unknown): Promise<RawResponse> {
    const url = path.startsWith("https://") ? path : `${emulator.vaultUrl}${path}${path.includes("?") ? "&" : "?"}api-version=7.5`;
    return httpsJson(url, {
      ca,
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
  }

  beforeAll(async () => {
    emulator = await startKeyVaultEmulator({ deletionDelayMs: 1_500, recoveryReadDelayMs: 1_500, emptyPageEvery: 0 });
    ca = readFileSync(emulator.caCertPath);
    token = ((await imds("api-version=2018-02-01&resource=https://vault.azure.net")).body as { access_token: string }).access_token;
  });
  afterAll(async () => {
    await emulator.stop();
  });

  it("answers writes to a deleted name with exactly the fixtures' 409 bodies", async () => {
    await kv("PUT", "/secrets/db-credentials", { value: "v" });
    expect((await kv("DELETE", "/secrets/db-credentials")).status).toBe(200);

    const deleting = await kv("PUT", "/secrets/db-credentials", { value: "v2" });
    expect(deleting.status).toBe(409);
    expect(deleting.body).toEqual(fixture("azure-keyvault-error-409-objectisbeingdeleted.json"));

    await until(async () => (await kv("GET", "/deletedsecrets/db-credentials")).status === 200);
    const deleted = await kv("PUT", "/secrets/db-credentials", { value: "v2" });
    expect(deleted.status).toBe(409);
    expect(deleted.body).toEqual(fixture("azure-keyvault-error-409-objectisdeletedbutrecoverable.json"));
  });

  it("answers a 16th tag with exactly the fixture's 400 body", async () => {
    const tags = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`tag${i}`, "v"]));
    const res = await kv("PUT", "/secrets/too-many-tags", { value: "v", tags });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(fixture("azure-keyvault-error-400-tags.json"));
  });

  it("answers a missing secret with the fixture's 404 shape and the service's longer text", async () => {
    const res = await kv("GET", "/secrets/not-there-at-all/");
    const expected = fixture("azure-keyvault-error-404-secretnotfound.json") as { error: { code: string; message: string } };
    expect(res.status).toBe(404);
    const body = res.body as { error: { code: string; message: string } };
    expect(Object.keys(body.error)).toEqual(Object.keys(expected.error));
    expect(body.error.code).toBe(expected.error.code);
    expect(body.error.message).toMatch(/^A secret with \(name\/id\) not-there-at-all was not found in this key vault\./);
  });

  it("returns SecretBundle and DeletedSecretBundle with the fixtures' fields in the fixtures' order", async () => {
    const set = await kv("PUT", "/secrets/shape", { value: "v", contentType: "application/json", tags: { a: "b" } });
    const setFixture = fixture("azure-keyvault-setsecret-response.json") as Record<string, Record<string, unknown>>;
    expect(set.status).toBe(200);
    const bundle = set.body as Record<string, Record<string, unknown>>;
    expect(Object.keys(bundle)).toEqual(Object.keys(setFixture));
    expect(Object.keys(bundle["attributes"] ?? {})).toEqual(Object.keys(setFixture["attributes"] ?? {}));
    expect(bundle["id"]).toMatch(new RegExp(`^${emulator.vaultUrl}/secrets/shape/[0-9a-f]{32}$`));

    await kv("PUT", "/secrets/plain", { value: "v" });
    const del = await kv("DELETE", "/secrets/plain");
    const delFixture = fixture("azure-keyvault-deletesecret-response.json") as Record<string, unknown>;
    expect(del.status).toBe(200);
    const deleted = del.body as Record<string, unknown>;
    expect(Object.keys(deleted)).toEqual(Object.keys(delFixture));
    expect((deleted["scheduledPurgeDate"] as number) - (deleted["deletedDate"] as number)).toBe(90 * 86_400);

    await until(async () => (await kv("GET", "/deletedsecrets/plain")).status === 200);
    const recovered = await kv("POST", "/deletedsecrets/plain/recover");
    expect(recovered.status).toBe(200);
    // As in the service's recordings: the recover response carries no value.
    expect(Object.keys(recovered.body as object)).toEqual(["id", "attributes"]);
    expect((await kv("GET", "/secrets/plain")).status).toBe(404);
    await until(async () => (await kv("GET", "/secrets/plain")).status === 200);
    expect((await kv("GET", "/secrets/plain")).body).toMatchObject({ value: "v" });
  });

  it("pages lists through nextLink with $skiptoken and refuses maxresults above 25", async () => {
    for (const i of [1, 2, 3, 4, 5]) await kv("PUT", `/secrets/paged-${i}`, { value: "v" });
    const first = await kv("GET", "/secrets?maxresults=2");
    const firstPage = first.body as { value: unknown[]; nextLink: string | null };
    expect(firstPage.value).toHaveLength(2);
    expect(firstPage.nextLink).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/secrets\?api-version=7\.5&\$skiptoken=[\w-]+&maxresults=2$/);
    const ids: string[] = [];
    let next: string | null = `${emulator.vaultUrl}/secrets?api-version=7.5&maxresults=2`;
    while (next !== null) {
      const page = (await kv("GET", next)).body as { value: Array<{ id: string }>; nextLink: string | null };
      ids.push(...page.value.map((item) => item.id));
      next = page.nextLink;
    }
    expect(ids.filter((id) => id.includes("/secrets/paged-"))).toHaveLength(5);
    expect(new Set(ids).size).toBe(ids.length);

    const tooMany = await kv("GET", "/secrets?maxresults=26");
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({ error: { code: "BadParameter" } });
  });

  it("rejects malformed requests like Key Vault", async () => {
    expect(await kv("PUT", "/secrets/bad-json", "{not json")).toMatchObject({ status: 400, body: { error: { code: "BadParameter" } } });
    expect(await kv("PUT", "/secrets/under_score", { value: "v" })).toMatchObject({
      status: 400,
      body: { error: { code: "BadParameter", message: "The request URI contains an invalid name: under_score" } },
    });
    expect(await kv("PUT", `/secrets/${"a".repeat(128)}`, { value: "v" })).toMatchObject({ status: 400 });
    expect(await kv("PUT", "/secrets/too-big", { value: "x".repeat(25_601) })).toMatchObject({ status: 400 });
    expect(await kv("PUT", "/secrets/just-fits", { value: "x".repeat(25_600) })).toMatchObject({ status: 200 });
    expect(await kv("GET", "/keys/some-key")).toMatchObject({ status: 404, body: { error: { code: "NotFound" } } });
    const noVersion = await httpsJson(`${emulator.vaultUrl}/secrets/just-fits`, { ca, headers: { authorization: `Bearer ${token}` } });
    expect(noVersion).toMatchObject({ status: 400, body: { error: { code: "BadParameter" } } });
  });

  it("serves IMDS tokens only with the Metadata header", async () => {
    const refused = await imds("api-version=2018-02-01&resource=https://vault.azure.net", {});
    expect(refused).toMatchObject({
      status: 400,
      body: { error: "invalid_request", error_description: "Required metadata header not specified" },
    });

    const res = await imds("api-version=2018-02-01&resource=https://vault.azure.net");
    expect(res.status).toBe(200);
    const body = res.body as Record<string, string>;
    expect(body).toMatchObject({ refresh_token: "", expires_in: "3599", resource: "https://vault.azure.net", token_type: "Bearer" });
    expect(Number(body["expires_on"]) - Number(body["not_before"])).toBe(3599);
  });

  it("issues RS256 tokens a verifier can check through OpenID discovery", async () => {
    const discovery = await httpsJson(`${emulator.issuer}/.well-known/openid-configuration`, { ca });
    const config = discovery.body as { issuer: string; jwks_uri: string };
    expect(config).toMatchObject({ issuer: emulator.issuer, jwks_uri: emulator.jwksUri });
    const jwks = (await httpsJson(config.jwks_uri, { ca })).body as JSONWebKeySet;

    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: config.issuer,
      audience: "https://vault.azure.net",
      algorithms: ["RS256"],
    });
    expect(protectedHeader.kid).toBe(jwks.keys[0]?.kid);
    const { objectId } = emulator.managedIdentity;
    expect(payload).toMatchObject({ sub: objectId, oid: objectId, tid: emulator.tenantId });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3599);
    expect(payload.nbf).toBe(payload.iat);

    const clientId = "11111111-2222-3333-4444-555555555555";
    const userAssigned = await imds(`api-version=2018-02-01&resource=https://vault.azure.net&client_id=${clientId}`);
    const other = await jwtVerify((userAssigned.body as { access_token: string }).access_token, createLocalJWKSet(jwks));
    expect(other.payload.oid).not.toBe(emulator.managedIdentity.objectId);
  });

  it("counts requests per operation", () => {
    const stats = emulator.stats();
    expect(stats["SetSecret"]).toBeGreaterThan(0);
    expect(stats["GetToken"]).toBeGreaterThan(0);
    expect(stats["UnknownRoute"]).toBe(1);
  });

  it.skipIf(!existsSync(SHARED_FIXTURES))("keeps its fixture copies identical to shared/fixtures", () => {
    for (const name of readdirSync(join(here, "fixtures"))) {
      expect(readFileSync(join(here, "fixtures", name), "utf8")).toBe(readFileSync(join(SHARED_FIXTURES, name), "utf8"));
    }
  });
});

describe("Key Vault emulator CLI", () => {
  it("prints its endpoints as one JSON line and stops on SIGTERM", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kv-cli-test-"));
    const child = spawn(process.execPath, [join(here, "main.ts"), "--port", "0", "--dir", dir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const [line] = await Promise.race([
        createInterface({ input: child.stdout })[Symbol.asyncIterator]().next().then((r) => [r.value as string]),
        sleep(20_000).then(() => { throw new Error("the CLI printed nothing"); }),
      ]);
      const info = JSON.parse(line ?? "") as { vaultUrl: string; caCertPath: string; tokenEndpoint: string };
      expect(info.caCertPath).toBe(join(dir, "ca.crt"));
      const res = await httpsJson(`${info.vaultUrl}/secrets?api-version=7.5`, { ca: readFileSync(info.caCertPath) });
      expect(res.status).toBe(401);
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });
});
