/**
 * The emulator's Entra token endpoint for federated client assertions, over raw HTTPS: the
 * client-credentials request as MSAL sends it, Entra's success and error shapes, every check a
 * federated identity credential implies, and the discovery document MSAL needs to use the emulator
 * as an authority.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, createLocalJWKSet, generateKeyPair, jwtVerify } from "jose";
import type { JSONWebKeySet } from "jose";
import { startServiceAccountIssuer } from "../../support/service-account-issuer.ts";
import type { ServiceAccountIssuer, ServiceAccountTokenOptions } from "../../support/service-account-issuer.ts";
import { startKeyVaultEmulator } from "./emulator.ts";
import type { KeyVaultEmulator } from "./emulator.ts";
import { JWT_BEARER_ASSERTION_TYPE, TOKEN_EXCHANGE_AUDIENCE } from "./federation.ts";
import { httpsJson } from "./test-client.ts";
import type { RawResponse } from "./test-client.ts";

const here = import.meta.dirname;
const CLIENT = "0c1e7a55-0000-4000-8000-0000000000aa";
const SUBJECT = "system:serviceaccount:credmesh:replicator-aws";

interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
}

describe("Entra token endpoint for federated client assertions", () => {
  let issuer: ServiceAccountIssuer;
  let emulator: KeyVaultEmulator;
  let ca: Buffer;

  beforeAll(async () => {
    issuer = await startServiceAccountIssuer();
    emulator = await startKeyVaultEmulator({
      federatedCredentials: [{ clientId: CLIENT, issuer: issuer.issuer, subject: SUBJECT, jwksUri: issuer.jwksUri }],
    });
    ca = readFileSync(emulator.caCertPath);
  });
  afterAll(async () => {
    await Promise.all([emulator?.stop(), issuer?.stop()]);
  });

  /** A token request as MSAL node sends it (form fields, client-request-id header). */
  async function exchange(assertion: string, overrides: Record<string, string | undefined> = {}, path?: string): Promise<RawResponse> {
    const form: Record<string, string | undefined> = {
      client_id: CLIENT,
      scope: "https://vault.azure.net/.default",
      grant_type: "client_credentials",
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: assertion,
      "x-client-SKU": "msal.js.node",
      ...overrides,
    };
    const body = new URLSearchParams(Object.entries(form).filter((e): e is [string, string] => e[1] !== undefined)).toString();
    return httpsJson(path ?? emulator.entraTokenEndpoint, {
      ca,
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded;charset=utf-8", "client-request-id": "5d7a3c3e-1111-4222-8333-444455556666" },
      body,
    });
  }

  const mint = (options: ServiceAccountTokenOptions = {}): Promise<string> => issuer.mint(options);

  function expectEntraError(res: RawResponse, status: number, error: string, code: number): EntraErrorBody {
    expect(res.status).toBe(status);
    const body = res.body as EntraErrorBody;
    expect(body.error).toBe(error);
    expect(body.error_codes).toEqual([code]);
    expect(body.error_description).toMatch(new RegExp(`^AADSTS${code}: .+ Trace ID: [0-9a-f-]{36} Correlation ID: 5d7a3c3e-1111-4222-8333-444455556666 Timestamp: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`));
    expect(body.correlation_id).toBe("5d7a3c3e-1111-4222-8333-444455556666");
    expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    return body;
  }

  it("exchanges a trusted service-account token for a Key Vault access token in Entra's shape", async () => {
    const assertion = await mint();
    const res = await exchange(assertion);
    expect(res.status).toBe(200);
    const body = res.body as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["token_type", "expires_in", "ext_expires_in", "access_token"]);
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599 });

    const jwks = (await httpsJson(emulator.jwksUri, { ca })).body as JSONWebKeySet;
    const { payload } = await jwtVerify(String(body["access_token"]), createLocalJWKSet(jwks), {
      issuer: emulator.issuer,
      audience: "https://vault.azure.net",
    });
    expect(payload).toMatchObject({ azp: CLIENT, idtyp: "app", tid: emulator.tenantId });
    expect(payload.exp! - payload.iat!).toBe(3599);

    // The vault accepts it.
    const vault = await httpsJson(`${emulator.vaultUrl}/secrets?api-version=7.5`, { ca, headers: { authorization: `Bearer ${String(body["access_token"])}` } });
    expect(vault.status).toBe(200);
    expect(emulator.federatedExchanges().at(-1)).toMatchObject({ clientId: CLIENT, issuer: issuer.issuer, subject: SUBJECT });
  });

  it("accepts an audience list that contains the credential's audience", async () => {
    expect((await exchange(await mint({ audience: ["https://kubernetes.default.svc", TOKEN_EXCHANGE_AUDIENCE] }))).status).toBe(200);
  });

  it("serves the OpenID configuration MSAL reads when instance discovery is disabled", async () => {
    const res = await httpsJson(emulator.openIdConfigurationUri, { ca });
    expect(res.status).toBe(200);
    // @azure/msal-common isOpenIdConfigResponse requires these four; issuer must share the authority's origin.
    expect(res.body).toMatchObject({
      issuer: emulator.issuer,
      token_endpoint: emulator.entraTokenEndpoint,
      authorization_endpoint: `${emulator.authorityHost}/${emulator.tenantId}/oauth2/v2.0/authorize`,
      jwks_uri: emulator.jwksUri,
    });
    expect(emulator.openIdConfigurationUri).toBe(`${emulator.authorityHost}/${emulator.tenantId}/v2.0/.well-known/openid-configuration`);
  });

  it("refuses an issuer no federated identity credential trusts (AADSTS700211)", async () => {
    const other = await startServiceAccountIssuer();
    try {
      const body = expectEntraError(await exchange(await other.mint()), 400, "invalid_client", 700211);
      expect(body.error_description).toContain(`'${other.issuer}'`);
    } finally {
      await other.stop();
    }
  });

  it("refuses a subject that matches no credential, case-sensitively (AADSTS700213)", async () => {
    expectEntraError(await exchange(await mint({ serviceAccount: "someone-else" })), 400, "invalid_client", 700213);
    expectEntraError(await exchange(await mint({ serviceAccount: "Replicator-AWS" })), 400, "invalid_client", 700213);
  });

  it("refuses an audience that matches no credential (AADSTS700212)", async () => {
    expectEntraError(await exchange(await mint({ audience: "sts.amazonaws.com" })), 400, "invalid_client", 700212);
  });

  it("refuses a token signed by a key the issuer does not publish (AADSTS700027)", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: "RS256", kid: "forged" })
      .setIssuer(issuer.issuer)
      .setSubject(SUBJECT)
      .setAudience(TOKEN_EXCHANGE_AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
    expectEntraError(await exchange(forged), 400, "invalid_client", 700027);
    // The real issuer's kid, the wrong key.
    const genuine = await mint();
    const [header] = genuine.split(".");
    const [, payload, signature] = forged.split(".");
    expectEntraError(await exchange(`${header}.${payload}.${signature}`), 400, "invalid_client", 700027);
  });

  it("refuses an expired token and a not-yet-valid one beyond five minutes of skew (AADSTS700024)", async () => {
    expectEntraError(await exchange(await mint({ lifetimeSeconds: 3600, offsetSeconds: -3600 - 600 })), 400, "invalid_client", 700024);
    expectEntraError(await exchange(await mint({ offsetSeconds: 900 })), 400, "invalid_client", 700024);
    // Within the tolerance.
    expect((await exchange(await mint({ lifetimeSeconds: 3600, offsetSeconds: -3600 - 60 }))).status).toBe(200);
  });

  it("refuses an unknown application (AADSTS700016) and a malformed assertion (AADSTS50027)", async () => {
    expectEntraError(await exchange(await mint(), { client_id: "11111111-2222-3333-4444-555555555555" }), 400, "unauthorized_client", 700016);
    expectEntraError(await exchange("not-a-jwt"), 400, "invalid_request", 50027);
  });

  it("answers AADSTS90061 when the issuer's keys cannot be fetched", async () => {
    const broken = await startServiceAccountIssuer();
    emulator.addFederatedCredential({ clientId: CLIENT, issuer: broken.issuer, subject: SUBJECT, jwksUri: `${broken.issuer}/no-such-jwks` });
    try {
      expectEntraError(await exchange(await broken.mint()), 400, "invalid_request", 90061);
    } finally {
      await broken.stop();
    }
  });

  it("checks the request parameters as Entra does", async () => {
    const assertion = await mint();
    expectEntraError(await exchange(assertion, { grant_type: undefined }), 400, "invalid_request", 900144);
    expectEntraError(await exchange(assertion, { grant_type: "password" }), 400, "unsupported_grant_type", 70003);
    expectEntraError(await exchange(assertion, { client_id: undefined }), 400, "invalid_request", 900144);
    expectEntraError(await exchange(assertion, { scope: undefined }), 400, "invalid_request", 900144);
    expectEntraError(await exchange(assertion, { scope: "https://vault.azure.net/secrets.read" }), 400, "invalid_scope", 1002012);
    expectEntraError(await exchange(assertion, { client_assertion: undefined }), 401, "invalid_client", 7000216);
    expectEntraError(await exchange(assertion, { client_assertion_type: "urn:other" }), 400, "invalid_request", 7000217);
    expectEntraError(await exchange(assertion, {}, `${emulator.authorityHost}/other-tenant/oauth2/v2.0/token`), 400, "invalid_request", 90002);
    const get = await httpsJson(emulator.entraTokenEndpoint, { ca, headers: { "client-request-id": "5d7a3c3e-1111-4222-8333-444455556666" } });
    expectEntraError(get, 405, "invalid_request", 900561);
  });

  it("never echoes the assertion in an error", async () => {
    const assertion = await mint({ audience: "wrong" });
    const res = await exchange(assertion);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toContain(assertion.split(".")[2]);
  });

  it("counts accepted and rejected exchanges", () => {
    const stats = emulator.stats();
    expect(stats["EntraToken"]).toBeGreaterThanOrEqual(3);
    expect(stats["EntraTokenRejected"]).toBeGreaterThanOrEqual(10);
  });
});

describe("Key Vault emulator CLI with federated credentials", () => {
  it("takes --federated-credential and --federated-credentials-file, and prints the Entra endpoints", async () => {
    const issuer = await startServiceAccountIssuer();
    const dir = await mkdtemp(join(tmpdir(), "kv-cli-fic-"));
    const file = join(dir, "fic.json");
    await writeFile(file, JSON.stringify([{ clientId: "aaaaaaaa-0000-4000-8000-000000000001", issuer: issuer.issuer, subject: SUBJECT, jwksUri: issuer.jwksUri }]));
    const flag = JSON.stringify({ clientId: "aaaaaaaa-0000-4000-8000-000000000002", issuer: issuer.issuer, subject: SUBJECT, jwksUri: issuer.jwksUri });
    const child = spawn(
      process.execPath,
      [join(here, "main.ts"), "--port", "0", "--dir", dir, "--federated-credentials-file", file, "--federated-credential", flag],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the CLI printed nothing")), 20_000);
        createInterface({ input: child.stdout }).once("line", (l) => {
          clearTimeout(timer);
          resolve(l);
        });
      });
      const info = JSON.parse(line) as { entraTokenEndpoint: string; authorityHost: string; tenantId: string; caCertPath: string };
      expect(info.entraTokenEndpoint).toBe(`${info.authorityHost}/${info.tenantId}/oauth2/v2.0/token`);
      for (const clientId of ["aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002"]) {
        const res = await httpsJson(info.entraTokenEndpoint, {
          ca: readFileSync(info.caCertPath),
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: "client_credentials",
            client_id: clientId,
            scope: "https://vault.azure.net/.default",
            client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
            client_assertion: await issuer.mint(),
          }).toString(),
        });
        expect(res.status).toBe(200);
      }
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await issuer.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
