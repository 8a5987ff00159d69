import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload } from "jose";
import { readFixture } from "../../support/fixtures.ts";

/**
 * A stand-in for Microsoft Entra ID on 127.0.0.1: it publishes a JWKS (and an OpenID
 * configuration for discovery) and mints the bearer tokens Event Grid would send, shaped like
 * ../../../../shared/fixtures/azure-entra-webhook-token-claims.json. It also mints every kind of
 * bad token a test needs: forged, expired, unsigned, HMAC-signed, for the wrong audience.
 */

interface ClaimsFixture {
  payload_v1: JWTPayload & Record<string, unknown>;
  payload_v2: JWTPayload & Record<string, unknown>;
}

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

interface MintOptions {
  /** Sign with this key instead of the issuer's (a forgery). */
  key?: PrivateKey | Uint8Array;
  alg?: string;
  kid?: string;
  /** Which fixture payload to start from. */
  version?: "v1" | "v2";
}

export interface TestIssuer {
  /** Base URL of the local server. */
  readonly url: string;
  readonly tenantId: string;
  /** Entra's real issuer strings; tokens carry them, and ingest gets the JWKS URL explicitly. */
  readonly v1Issuer: string;
  readonly v2Issuer: string;
  /** An issuer served by this server, for OpenID discovery (`<issuer>/.well-known/openid-configuration`). */
  readonly discoverableIssuer: string;
  readonly jwksUrl: string;
  /** The webhook app: App ID URI (v1 `aud`) and client id (v2 `aud`). */
  readonly audiences: { readonly appIdUri: string; readonly clientId: string };
  readonly kid: string;
  /** Requests served, by path. */
  readonly requests: string[];
  /** The issuer's public key as PEM (what an algorithm-confusion attacker keys HMAC with). */
  readonly publicPem: string;
  /** A key pair that is not the issuer's. */
  readonly attackerKey: PrivateKey;
  /** A token Event Grid would present: the fixture's claims, fresh times, `changes` on top. */
  mint(changes?: JWTPayload & Record<string, unknown>, options?: MintOptions): Promise<string>;
  /** An unsigned token (`alg: none`). */
  unsigned(changes?: JWTPayload & Record<string, unknown>): string;
  stop(): Promise<void>;
}

export async function startTestIssuer(): Promise<TestIssuer> {
  const fixture = readFixture<ClaimsFixture>("azure-entra-webhook-token-claims.json");
  const tenantId = fixture.payload_v1["tid"] as string;
  const kid = "credmesh-test-key-1";
  const pair = await generateKeyPair("RS256", { extractable: true });
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid, alg: "RS256", use: "sig" };
  const requests: string[] = [];

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    requests.push(path);
    const send = (body: unknown): void => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (path === `/${tenantId}/discovery/v2.0/keys`) return send({ keys: [jwk] });
    if (path === `/${tenantId}/v2.0/.well-known/openid-configuration`) {
      return send({ issuer: `${url}/${tenantId}/v2.0`, jwks_uri: `${url}/${tenantId}/discovery/v2.0/keys`, id_token_signing_alg_values_supported: ["RS256"] });
    }
    res.writeHead(404).end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const claims = (version: "v1" | "v2", changes: Record<string, unknown>): JWTPayload => {
    const now = Math.floor(Date.now() / 1000);
    return { ...fixture[version === "v1" ? "payload_v1" : "payload_v2"], iat: now - 60, nbf: now - 60, exp: now + 3600, ...changes };
  };
  const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

  return {
    url,
    tenantId,
    v1Issuer: fixture.payload_v1.iss as string,
    v2Issuer: fixture.payload_v2.iss as string,
    discoverableIssuer: `${url}/${tenantId}/v2.0`,
    jwksUrl: `${url}/${tenantId}/discovery/v2.0/keys`,
    audiences: { appIdUri: fixture.payload_v1.aud as string, clientId: fixture.payload_v2.aud as string },
    kid,
    requests,
    publicPem: await exportSPKI(pair.publicKey),
    attackerKey: (await generateKeyPair("RS256")).privateKey,
    mint(changes = {}, options = {}) {
      return new SignJWT(claims(options.version ?? "v1", changes))
        .setProtectedHeader({ typ: "JWT", alg: options.alg ?? "RS256", kid: options.kid ?? kid })
        .sign(options.key ?? pair.privateKey);
    },
    unsigned(changes = {}) {
      return `${base64url({ typ: "JWT", alg: "none" })}.${base64url(claims("v1", changes))}.`;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** ingest's environment for Entra auth against this issuer: Entra's issuer strings, the local JWKS. */
export function entraEnv(issuer: TestIssuer): Record<string, string> {
  return {
    CREDMESH_EVENTGRID_AUTH: "entra",
    CREDMESH_EVENTGRID_TENANT_ID: issuer.tenantId,
    CREDMESH_EVENTGRID_AUDIENCES: `${issuer.audiences.appIdUri},${issuer.audiences.clientId}`,
    CREDMESH_EVENTGRID_JWKS_URL: issuer.jwksUrl,
  };
}
