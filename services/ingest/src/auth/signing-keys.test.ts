import { SignJWT, exportJWK, generateKeyPair, jwtVerify, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { SigningKeysUnavailableError, createIssuerKeys, discoveryUrl } from "./signing-keys.ts";

const TENANT = "7d1e5a90-2c4b-4f3e-8a6d-0e9b1c2d3f40";
const V1 = `https://sts.windows.net/${TENANT}/`;
const V2 = `https://login.microsoftonline.com/${TENANT}/v2.0`;
const JWKS_URI = `https://login.microsoftonline.com/${TENANT}/discovery/v2.0/keys`;

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

let privateKey: SigningKey;
let jwk: JWK;

beforeAll(async () => {
  const pair = await generateKeyPair("RS256", { extractable: true });
  privateKey = pair.privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
});

/** A fake network: a map of URL → answer, recording every request. */
function network(routes: Record<string, () => Response>) {
  const requests: string[] = [];
  const fetch = (input: string | URL | Request): Promise<Response> => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    requests.push(url);
    const route = routes[url];
    return route ? Promise.resolve(route()) : Promise.reject(new TypeError("fetch failed"));
  };
  return { fetch, requests };
}

const json = (body: unknown, status = 200): Response => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const entra = (overrides: Record<string, () => Response> = {}) =>
  network({
    [discoveryUrl(V1)]: () => json({ issuer: V1, jwks_uri: JWKS_URI }),
    [discoveryUrl(V2)]: () => json({ issuer: V2, jwks_uri: JWKS_URI }),
    [JWKS_URI]: () => json({ keys: [jwk] }),
    ...overrides,
  });

const token = (iss: string) => new SignJWT({ iss }).setProtectedHeader({ alg: "RS256", kid: "k1" }).setExpirationTime("5m").sign(privateKey);

describe("discoveryUrl", () => {
  it("finds Entra's v1 issuer configuration under login.microsoftonline.com, every other under the issuer", () => {
    expect(discoveryUrl(V1)).toBe(`https://login.microsoftonline.com/${TENANT}/.well-known/openid-configuration`);
    expect(discoveryUrl(V2)).toBe(`https://login.microsoftonline.com/${TENANT}/v2.0/.well-known/openid-configuration`);
    expect(discoveryUrl("http://127.0.0.1:8080/tenant/")).toBe("http://127.0.0.1:8080/tenant/.well-known/openid-configuration");
  });
});

describe("issuer keys", () => {
  it("discovers each issuer once, and shares one key set between issuers that publish the same jwks_uri", async () => {
    const net = entra();
    const keys = createIssuerKeys({ fetch: net.fetch });
    for (const issuer of [V1, V2, V1, V2]) {
      const { payload } = await jwtVerify(await token(issuer), await keys.forIssuer(issuer));
      expect(payload.iss).toBe(issuer);
    }
    expect(net.requests.sort()).toEqual([discoveryUrl(V1), discoveryUrl(V2), JWKS_URI].sort());
  });

  it("uses a configured JWKS URL for every issuer, without discovery", async () => {
    const net = entra();
    const keys = createIssuerKeys({ fetch: net.fetch, jwksUrl: JWKS_URI });
    await jwtVerify(await token(V1), await keys.forIssuer(V1));
    await jwtVerify(await token(V2), await keys.forIssuer(V2));
    expect(net.requests).toEqual([JWKS_URI]);
  });

  it("loads every key set on warm-up", async () => {
    const net = entra();
    await createIssuerKeys({ fetch: net.fetch }).warmUp([V1, V2]);
    expect(net.requests.filter((url) => url === JWKS_URI)).toHaveLength(1);
    await expect(createIssuerKeys({ fetch: entra({ [JWKS_URI]: () => json({}, 503) }).fetch }).warmUp([V1])).rejects.toBeInstanceOf(
      SigningKeysUnavailableError,
    );
  });

  it.each([
    ["answers 500", () => json({}, 500)],
    ["names another issuer", () => json({ issuer: "https://evil.example/", jwks_uri: JWKS_URI })],
    ["has no jwks_uri", () => json({ issuer: V2 })],
    ["points jwks_uri at plain HTTP off loopback", () => json({ issuer: V2, jwks_uri: "http://keys.example/jwks" })],
    ["is not JSON", () => new Response("<html>", { status: 200 })],
  ])("reports keys unavailable (retryable) when the discovery document %s", async (_, answer) => {
    const keys = createIssuerKeys({ fetch: entra({ [discoveryUrl(V2)]: answer }).fetch });
    await expect(keys.forIssuer(V2)).rejects.toBeInstanceOf(SigningKeysUnavailableError);
  });

  it("reports keys unavailable when the JWKS cannot be fetched, and a definitive answer for an unknown kid", async () => {
    const down = createIssuerKeys({ fetch: entra({ [JWKS_URI]: () => json({}, 502) }).fetch });
    await expect(jwtVerify(await token(V2), await down.forIssuer(V2))).rejects.toBeInstanceOf(SigningKeysUnavailableError);

    const up = createIssuerKeys({ fetch: entra().fetch });
    const unknownKid = await new SignJWT({ iss: V2 }).setProtectedHeader({ alg: "RS256", kid: "k2" }).setExpirationTime("5m").sign(privateKey);
    await expect(jwtVerify(unknownKid, await up.forIssuer(V2))).rejects.toMatchObject({ code: "ERR_JWKS_NO_MATCHING_KEY" });
  });

  it("keeps verifying with the keys last loaded when a refresh fails", async () => {
    let healthy = true;
    const net = entra({ [JWKS_URI]: () => (healthy ? json({ keys: [jwk] }) : json({}, 503)) });
    const keys = createIssuerKeys({ fetch: net.fetch, cacheMaxAgeMs: 0 });
    await jwtVerify(await token(V2), await keys.forIssuer(V2));
    healthy = false;
    const { payload } = await jwtVerify(await token(V2), await keys.forIssuer(V2));
    expect(payload.iss).toBe(V2);
    // It did try to refresh (the cache age is 0): the stale set answered because the refresh failed.
    expect(net.requests.filter((url) => url === JWKS_URI)).toHaveLength(2);
  });

  it("remembers a failed discovery briefly, then tries again", async () => {
    let now = 1_000_000;
    let healthy = false;
    const net = entra({ [discoveryUrl(V2)]: () => (healthy ? json({ issuer: V2, jwks_uri: JWKS_URI }) : json({}, 503)) });
    const keys = createIssuerKeys({ fetch: net.fetch, now: () => now, discoveryRetryMs: 5_000 });
    await expect(keys.forIssuer(V2)).rejects.toBeInstanceOf(SigningKeysUnavailableError);
    healthy = true;
    await expect(keys.forIssuer(V2)).rejects.toBeInstanceOf(SigningKeysUnavailableError);
    expect(net.requests).toEqual([discoveryUrl(V2)]);
    now += 5_001;
    await jwtVerify(await token(V2), await keys.forIssuer(V2));
    expect(net.requests).toEqual([discoveryUrl(V2), discoveryUrl(V2), JWKS_URI]);
  });
});
