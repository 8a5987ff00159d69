import { SignJWT, createLocalJWKSet, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { loadAzureFixture } from "../eventgrid/test-fixtures.ts";
import { EVENTGRID_APP_ID_AZURE_PUBLIC, EVENTGRID_WEBHOOK_ROLE, defaultIssuers, type EntraAuthConfig } from "../eventgrid-config.ts";
import { EntraTokenAuthenticator, bearerToken, checkEventGridClaims } from "./entra-token.ts";
import type { AuthResult } from "./eventgrid-auth.ts";
import { SigningKeysUnavailableError, type IssuerKeys } from "./signing-keys.ts";

interface ClaimsFixture {
  header: { typ: string; alg: string; kid: string };
  payload_v1: JWTPayload & Record<string, unknown>;
  payload_v2: JWTPayload & Record<string, unknown>;
}

/** A private key as jose generates it (the DOM CryptoKey type is not in this lib). */
type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

const FIXTURE = loadAzureFixture<ClaimsFixture>("azure-entra-webhook-token-claims.json");
const TENANT = FIXTURE.payload_v1["tid"] as string;
const KID = FIXTURE.header.kid;
/** One minute after the fixture tokens were issued. */
const NOW = new Date(((FIXTURE.payload_v1.iat as number) + 60) * 1000);
const nowSeconds = Math.floor(NOW.getTime() / 1000);

const CONFIG: EntraAuthConfig = {
  mode: "entra",
  tenantId: TENANT,
  issuers: defaultIssuers(TENANT),
  audiences: [FIXTURE.payload_v1.aud as string, FIXTURE.payload_v2.aud as string],
  jwksUrl: undefined,
  algorithms: ["RS256"],
  clockToleranceSeconds: 60,
  appIds: [EVENTGRID_APP_ID_AZURE_PUBLIC],
  role: EVENTGRID_WEBHOOK_ROLE,
};

let issuerKey: SigningKey;
let otherKey: SigningKey;
let publicJwk: JWK;
let publicPem: string;

/** The issuer's JWKS, in memory; `unavailable` makes every lookup fail as a network outage would. */
function keys(options: { unavailable?: boolean } = {}): IssuerKeys & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    forIssuer(issuer) {
      asked.push(issuer);
      if (options.unavailable) return Promise.reject(new SigningKeysUnavailableError("down"));
      return Promise.resolve(createLocalJWKSet({ keys: [{ ...publicJwk, kid: KID, alg: "RS256", use: "sig" }] }));
    },
    warmUp: () => Promise.resolve(),
  };
}

function authenticator(config: Partial<EntraAuthConfig> = {}, issuerKeys: IssuerKeys = keys()): EntraTokenAuthenticator {
  return new EntraTokenAuthenticator({ ...CONFIG, ...config }, { keys: issuerKeys, now: () => NOW });
}

async function mint(payload: JWTPayload, options: { key?: SigningKey | Uint8Array; alg?: string; kid?: string } = {}): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ typ: "JWT", alg: options.alg ?? "RS256", kid: options.kid ?? KID })
    .sign(options.key ?? issuerKey);
}

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

const present = (token: string, scheme = "Bearer") => ({ authorization: `${scheme} ${token}` });

function failureOf(result: AuthResult) {
  if (result.ok) throw new Error("expected a failure");
  return result;
}

beforeAll(async () => {
  const pair = await generateKeyPair("RS256", { extractable: true });
  issuerKey = pair.privateKey;
  publicJwk = await exportJWK(pair.publicKey);
  publicPem = await exportSPKI(pair.publicKey);
  otherKey = (await generateKeyPair("RS256")).privateKey;
});

describe("Entra bearer tokens", () => {
  it.each(["payload_v1", "payload_v2"] as const)("accepts the fixture's %s claims, signed by the issuer", async (version) => {
    const token = await mint(FIXTURE[version]);
    const result = await authenticator().authenticate(present(token));
    expect(result).toMatchObject({ ok: true, principal: { scheme: "entra", iss: FIXTURE[version].iss } });
    // The principal is for logs: it never holds the token.
    expect(JSON.stringify(result)).not.toContain(token.split(".")[2]);
  });

  it("looks the keys up for the token's issuer, and only for an allowed one", async () => {
    const issuerKeys = keys();
    await authenticator({}, issuerKeys).authenticate(present(await mint(FIXTURE.payload_v2)));
    await authenticator({}, issuerKeys).authenticate(present(await mint({ ...FIXTURE.payload_v2, iss: "https://evil.example/" })));
    expect(issuerKeys.asked).toEqual([FIXTURE.payload_v2.iss]);
  });

  it("accepts the Bearer scheme in any case", async () => {
    expect((await authenticator().authenticate(present(await mint(FIXTURE.payload_v1), "bearer"))).ok).toBe(true);
  });

  it.each([
    ["no Authorization header", {}, "missing_credentials"],
    ["Basic credentials", { authorization: "Basic ZXZlbnRncmlkOnNlY3JldA==" }, "missing_credentials"],
    ["an empty bearer", { authorization: "Bearer " }, "missing_credentials"],
    ["two segments", { authorization: "Bearer abc.def" }, "missing_credentials"],
    ["garbage in three segments", { authorization: "Bearer abc.def.ghi" }, "malformed_token"],
  ] as const)("refuses %s", async (_, headers, failure) => {
    expect(failureOf(await authenticator().authenticate(headers))).toMatchObject({ failure, retryable: false });
  });

  it("refuses an unsigned token (alg none) before looking up any key", async () => {
    const issuerKeys = keys();
    const unsigned = `${base64url({ alg: "none", typ: "JWT" })}.${base64url(FIXTURE.payload_v1)}.`;
    expect(failureOf(await authenticator({}, issuerKeys).authenticate(present(unsigned))).failure).toBe("algorithm_not_allowed");
    expect(issuerKeys.asked).toEqual([]);
  });

  it("refuses HS256, also when keyed with the issuer's public key (algorithm confusion)", async () => {
    const withSecret = await mint(FIXTURE.payload_v1, { alg: "HS256", key: new TextEncoder().encode("a-shared-secret-of-32-bytes-long!") });
    const withPublicKey = await mint(FIXTURE.payload_v1, { alg: "HS256", key: new TextEncoder().encode(publicPem) });
    for (const token of [withSecret, withPublicKey]) {
      expect(failureOf(await authenticator().authenticate(present(token))).failure).toBe("algorithm_not_allowed");
    }
  });

  it("refuses an algorithm outside the configured allow-list", async () => {
    const rs384 = await mint(FIXTURE.payload_v1, { alg: "RS384", key: (await generateKeyPair("RS384")).privateKey });
    expect(failureOf(await authenticator().authenticate(present(rs384))).failure).toBe("algorithm_not_allowed");
  });

  it("refuses a token signed by another key, under the issuer's kid or another one", async () => {
    const forged = await mint(FIXTURE.payload_v1, { key: otherKey });
    expect(failureOf(await authenticator().authenticate(present(forged))).failure).toBe("bad_signature");
    const unknownKid = await mint(FIXTURE.payload_v1, { key: otherKey, kid: "attacker-kid" });
    expect(failureOf(await authenticator().authenticate(present(unknownKid))).failure).toBe("unknown_signing_key");
  });

  it("refuses a token whose payload was changed after signing", async () => {
    const [header, , signature] = (await mint(FIXTURE.payload_v1)).split(".");
    const tampered = `${header}.${base64url({ ...FIXTURE.payload_v1, roles: [EVENTGRID_WEBHOOK_ROLE, "Admin"] })}.${signature}`;
    expect(failureOf(await authenticator().authenticate(present(tampered))).failure).toBe("bad_signature");
  });

  it("applies the clock tolerance to exp and nbf, and no more", async () => {
    const at = (exp: number, nbf: number) => mint({ ...FIXTURE.payload_v1, exp, nbf, iat: nbf });
    const check = async (token: Promise<string>) => authenticator().authenticate(present(await token));
    expect((await check(at(nowSeconds - 30, nowSeconds - 3600))).ok).toBe(true);
    expect(failureOf(await check(at(nowSeconds - 61, nowSeconds - 3600))).failure).toBe("expired");
    expect((await check(at(nowSeconds + 3600, nowSeconds + 30))).ok).toBe(true);
    expect(failureOf(await check(at(nowSeconds + 3600, nowSeconds + 61))).failure).toBe("not_yet_valid");
    const strict = await authenticator({ clockToleranceSeconds: 0 }).authenticate(present(await at(nowSeconds - 30, nowSeconds - 3600)));
    expect(failureOf(strict).failure).toBe("expired");
  });

  it("requires exp", async () => {
    const rest: JWTPayload = { ...FIXTURE.payload_v1 };
    delete rest.exp;
    expect(failureOf(await authenticator().authenticate(present(await mint(rest)))).failure).toBe("missing_claim");
  });

  it.each([
    ["an audience of another app", { aud: "api://00000000-0000-0000-0000-000000000000" }, "wrong_audience"],
    ["an issuer outside the allow-list", { iss: "https://sts.windows.net/00000000-0000-0000-0000-000000000000/" }, "issuer_not_allowed"],
    ["another tenant", { tid: "00000000-0000-0000-0000-000000000000" }, "wrong_tenant"],
    ["another application than Event Grid", { appid: "11111111-1111-1111-1111-111111111111" }, "wrong_app"],
    ["no app role", { roles: undefined }, "missing_role"],
    ["another app role", { roles: ["Reader"] }, "missing_role"],
  ] as const)("refuses %s", async (_, change, failure) => {
    const result = await authenticator().authenticate(present(await mint({ ...FIXTURE.payload_v1, ...change })));
    const refused = failureOf(result);
    expect(refused).toMatchObject({ failure, retryable: false });
    // What the operator's log line shows: unverified fields, never the token.
    expect(refused.detail).toMatchObject({ alg: "RS256", kid: KID });
  });

  it("lets the operator turn the app id and role checks off", async () => {
    const token = await mint({ ...FIXTURE.payload_v1, appid: "11111111-1111-1111-1111-111111111111", roles: [] });
    expect((await authenticator({ appIds: undefined, role: undefined }).authenticate(present(token))).ok).toBe(true);
  });

  it("answers retryable when the issuer's keys cannot be loaded", async () => {
    const result = await authenticator({}, keys({ unavailable: true })).authenticate(present(await mint(FIXTURE.payload_v1)));
    expect(failureOf(result)).toMatchObject({ failure: "signing_keys_unavailable", retryable: true });
  });
});

describe("Event Grid claims", () => {
  const policy = { tenantId: TENANT, appIds: [EVENTGRID_APP_ID_AZURE_PUBLIC], role: EVENTGRID_WEBHOOK_ROLE };

  it("accepts the fixture's v1 (appid) and v2 (azp) claims", () => {
    expect(checkEventGridClaims(FIXTURE.payload_v1, policy)).toBeUndefined();
    expect(checkEventGridClaims(FIXTURE.payload_v2, policy)).toBeUndefined();
  });

  it("prefers appid over azp, so a v1 token cannot borrow Event Grid's id in azp", () => {
    expect(checkEventGridClaims({ ...FIXTURE.payload_v1, appid: "evil", azp: EVENTGRID_APP_ID_AZURE_PUBLIC }, policy)).toBe("wrong_app");
  });

  it("compares tenant and app ids case-insensitively (GUIDs)", () => {
    expect(checkEventGridClaims({ ...FIXTURE.payload_v1, tid: TENANT.toUpperCase(), appid: EVENTGRID_APP_ID_AZURE_PUBLIC.toUpperCase() }, policy)).toBeUndefined();
  });
});

describe("bearerToken", () => {
  it("takes the compact JWS out of the header and nothing else", () => {
    expect(bearerToken("Bearer a.b.c")).toBe("a.b.c");
    expect(bearerToken("BEARER  a.b.c ")).toBe("a.b.c");
    expect(bearerToken("Bearer a.b.c d")).toBeUndefined();
    expect(bearerToken("Token a.b.c")).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
