/**
 * How a SecretClient must be set up to reach the emulator (TLS trust, challenge verification), and
 * that the vault refuses every token it should refuse.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, decodeJwt, decodeProtectedHeader, generateKeyPair } from "jose";
import { startKeyVaultEmulator } from "./emulator.ts";
import type { KeyVaultEmulator } from "./emulator.ts";
import { createSecretClient, httpsJson, staticCredential } from "./test-client.ts";
import type { TlsTrust } from "./test-client.ts";
import { readFileSync } from "node:fs";

async function failure(promise: Promise<unknown>): Promise<{ statusCode?: number; code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { statusCode?: number; code?: string; message: string };
  }
  throw new Error("expected the call to fail");
}

async function fetchToken(emulator: KeyVaultEmulator, resource: string): Promise<string> {
  const url = `${emulator.tokenEndpoint}?api-version=2018-02-01&resource=${encodeURIComponent(resource)}`;
  const res = await httpsJson(url, { ca: readFileSync(emulator.caCertPath), headers: { Metadata: "true" } });
  return (res.body as { access_token: string }).access_token;
}

describe("connecting to the Key Vault emulator", () => {
  let emulator: KeyVaultEmulator;
  let other: KeyVaultEmulator;

  beforeAll(async () => {
    [emulator, other] = await Promise.all([startKeyVaultEmulator(), startKeyVaultEmulator({ tokenLifetimeSeconds: 1 })]);
  });
  afterAll(async () => {
    await Promise.all([emulator.stop(), other.stop()]);
  });

  it.each<TlsTrust>(["tlsOptions", "tlsSettingsPolicy", "agentPolicy"])("trusts the emulator CA via %s", async (trust) => {
    const client = createSecretClient(emulator, { trust });
    await client.setSecret(`tls-${trust}`, "ok");
    expect((await client.getSecret(`tls-${trust}`)).value).toBe("ok");
  });

  it("fails TLS verification when the client does not trust the CA", async () => {
    const client = createSecretClient(emulator, { trust: "none", retryOptions: { maxRetries: 0 } });
    const error = await failure(client.getSecret("anything"));
    expect(error.message).toMatch(/certificate/i);
  });

  it("needs disableChallengeResourceVerification for a vault at 127.0.0.1", async () => {
    const client = createSecretClient(emulator, { disableChallengeResourceVerification: false });
    const error = await failure(client.getSecret("anything"));
    expect(error.message).toContain("does not match the requested domain");
  });

  it("answers an unauthenticated request with the Key Vault challenge", async () => {
    const res = await httpsJson(`${emulator.vaultUrl}/secrets/x?api-version=7.5`, { ca: readFileSync(emulator.caCertPath) });
    expect(res.status).toBe(401);
    expect(res.headers["www-authenticate"]).toBe(
      `Bearer authorization="${emulator.vaultUrl}/${emulator.tenantId}", resource="https://vault.azure.net"`,
    );
    expect(res.body).toEqual({ error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } });
  });

  it("rejects a token with a forged signature", async () => {
    const genuine = await fetchToken(emulator, "https://vault.azure.net");
    const { privateKey } = await generateKeyPair("RS256");
    // Same header (kid included) and claims as a genuine token; only the signing key differs.
    const header = decodeProtectedHeader(genuine) as { alg: string };
    const forged = await new SignJWT(decodeJwt(genuine)).setProtectedHeader(header).sign(privateKey);
    const client = createSecretClient(emulator, { credential: staticCredential(forged) });
    const error = await failure(client.getSecret("anything"));
    expect(error).toMatchObject({ statusCode: 401, code: "Unauthorized" });
  });

  it("rejects a token issued by another emulator", async () => {
    const foreign = await fetchToken(other, "https://vault.azure.net");
    const client = createSecretClient(emulator, { credential: staticCredential(foreign) });
    expect(await failure(client.getSecret("anything"))).toMatchObject({ statusCode: 401, code: "Unauthorized" });
  });

  it("rejects a token for another audience with AKV10022", async () => {
    const token = await fetchToken(emulator, "https://management.azure.com/");
    const client = createSecretClient(emulator, { credential: staticCredential(token) });
    const error = await failure(client.getSecret("anything"));
    expect(error).toMatchObject({ statusCode: 401, code: "Unauthorized" });
    expect(error.message).toMatch(/^AKV10022: Invalid audience/);
  });

  it("accepts the audience with a trailing slash, as Key Vault does", async () => {
    const token = await fetchToken(emulator, "https://vault.azure.net/");
    const client = createSecretClient(emulator, { credential: staticCredential(token) });
    await client.setSecret("slash-audience", "v");
  });

  it("rejects an expired token", async () => {
    const token = await fetchToken(other, "https://vault.azure.net");
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const client = createSecretClient(other, { credential: staticCredential(token) });
    expect(await failure(client.getSecret("anything"))).toMatchObject({ statusCode: 401, code: "Unauthorized" });
  });
});
