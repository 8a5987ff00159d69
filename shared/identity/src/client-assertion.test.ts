import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import { Registry, createMetrics } from "@credmesh/metrics";
import { clientAssertionCredential, type ClientAssertionConfig, type ClientAssertionSdk } from "./client-assertion.ts";

const TENANT = "c0ffee00-0000-4000-8000-00000000000a";
const CLIENT = "0c1e7a55-0000-4000-8000-0000000000aa";
const SCOPE = "https://vault.azure.net/.default";
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

/** A JWT-shaped assertion with the given claims and a recognisable, secret signature. */
function assertion(claims: Record<string, unknown>, signature: string): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", kid: "k" })}.${part(claims)}.${signature}`;
}
const valid = (signature: string, exp = NOW / 1000 + 3600): string =>
  assertion({ iss: "https://oidc.example", sub: "system:serviceaccount:credmesh:replicator-aws", aud: "api://AzureADTokenExchange", exp }, signature);

const FIRST = valid("FIRST-SECRET-SIGNATURE");
const SECOND = valid("SECOND-SECRET-SIGNATURE");

/** What the fake SDK saw, and what it answers: it calls getAssertion like MSAL does. */
interface FakeSdk {
  sdk: ClientAssertionSdk;
  constructed: { tenantId: string; clientId: string; options: Record<string, unknown> }[];
  assertions: string[];
  requests: { scopes: string[]; options: GetTokenOptions }[];
  /** Thrown instead of answering, once per entry. */
  failures: Error[];
  lifetimeMs: number;
}

function fakeSdk(): FakeSdk {
  const fake: FakeSdk = { sdk: () => undefined as never, constructed: [], assertions: [], requests: [], failures: [], lifetimeMs: 3_600_000 };
  fake.sdk = (tenantId, clientId, getAssertion, options): TokenCredential => {
    fake.constructed.push({ tenantId, clientId, options: options as Record<string, unknown> });
    return {
      async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
        fake.requests.push({ scopes: [scopes].flat(), options: options ?? {} });
        let value: string;
        try {
          value = await getAssertion();
        } catch (error) {
          // @azure/identity wraps whatever MSAL throws into an AuthenticationRequiredError.
          throw Object.assign(new Error("wrapped"), { name: "AuthenticationRequiredError", cause: error });
        }
        fake.assertions.push(value);
        const failure = fake.failures.shift();
        if (failure !== undefined) throw failure;
        return { token: `access-token-${fake.requests.length}`, expiresOnTimestamp: NOW + fake.lifetimeMs, tokenType: "Bearer" };
      },
    };
  };
  return fake;
}

/** An MSAL ServerError (as @azure/identity wraps it) for an Entra error answer. */
function entraRejection(error: string, aadsts: number, status: number): Error {
  const description = `AADSTS${aadsts}: No matching federated identity record found for presented assertion subject 'system:serviceaccount:credmesh:replicator-aws'. ${FIRST}`;
  const serverError = Object.assign(new Error(`Error(s): ${aadsts} - Description: ${description}`), {
    name: "ServerError",
    errorCode: error,
    errorMessage: description,
    errorNo: String(aadsts),
    status,
  });
  return Object.assign(new Error(serverError.message), { name: "AuthenticationRequiredError", cause: serverError });
}

describe("clientAssertionCredential", () => {
  let dir: string;
  let tokenFile: string;
  let fake: FakeSdk;
  let metrics: ReturnType<typeof createMetrics>;
  let clock: number;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "credmesh-assertion-"));
    tokenFile = join(dir, "azure-identity-token");
    await writeFile(tokenFile, FIRST);
    fake = fakeSdk();
    metrics = createMetrics(new Registry(), { defaultMetrics: false });
    clock = NOW;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const credential = (config: Partial<ClientAssertionConfig> = {}) =>
    clientAssertionCredential({ tenantId: TENANT, clientId: CLIENT, tokenFile, ...config }, { sdk: fake.sdk, metrics, now: () => clock });

  async function rotate(content: string): Promise<void> {
    await writeFile(`${tokenFile}.new`, content);
    await rename(`${tokenFile}.new`, tokenFile);
  }

  async function failure(call: Promise<unknown>): Promise<CredmeshError> {
    try {
      await call;
    } catch (error) {
      expect(error).toBeInstanceOf(CredmeshError);
      return error as CredmeshError;
    }
    throw new Error("expected getToken to fail");
  }

  /** Everything an error could show of itself in a log, a dead letter or a console. */
  const shown = (error: CredmeshError): string =>
    `${error.message} ${JSON.stringify(error.toRecord())} ${error.cause instanceof Error ? error.cause.toString() : String(error.cause)} ${error.stack ?? ""}`;

  async function counter(outcome: string): Promise<number> {
    const metric = await metrics.credentialRefreshes.get();
    return metric.values.find((v) => v.labels["source"] === "azure-client-assertion" && v.labels["outcome"] === outcome)?.value ?? 0;
  }

  it("configures @azure/identity for the public cloud by default", () => {
    credential();
    expect(fake.constructed).toEqual([
      {
        tenantId: TENANT,
        clientId: CLIENT,
        options: { authorityHost: "https://login.microsoftonline.com", disableInstanceDiscovery: false, retryOptions: { maxRetries: 3 } },
      },
    ]);
  });

  it("configures a private authority: its host, its CA, and no instance discovery at login.microsoftonline.com", async () => {
    const caFile = join(dir, "ca.crt");
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    await writeFile(caFile, pem);
    credential({ authorityHost: "https://127.0.0.1:8443/", caFile, maxRetries: 0 });
    expect(fake.constructed[0]?.options).toEqual({
      authorityHost: "https://127.0.0.1:8443",
      disableInstanceDiscovery: true,
      tlsOptions: { ca: pem },
      retryOptions: { maxRetries: 0 },
    });
  });

  it.each<[Partial<ClientAssertionConfig>, string]>([
    [{ authorityHost: "http://127.0.0.1:8443" }, "authorityHost"],
    [{ authorityHost: "not a url" }, "authorityHost"],
    [{ tenantId: "a/b" }, "tenantId"],
    [{ clientId: "" }, "clientId"],
    [{ tokenFile: "" }, "tokenFile"],
    [{ caFile: "/nonexistent/ca.crt" }, "caFile"],
    [{ maxRetries: -1 }, "maxRetries"],
  ])("refuses a bad configuration at construction: %o", (config, setting) => {
    let error: unknown;
    try {
      credential(config);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CredmeshError);
    expect((error as CredmeshError).reason).toBe("configuration");
    expect((error as CredmeshError).message).toContain(setting);
  });

  it("sends the token file's content as the assertion and returns Entra's access token", async () => {
    const token = await credential().getToken(SCOPE, { tenantId: TENANT, enableCae: true });
    expect(token).toEqual({ token: "access-token-1", expiresOnTimestamp: NOW + 3_600_000, tokenType: "Bearer" });
    expect(fake.assertions).toEqual([FIRST]);
    expect(fake.requests[0]).toEqual({ scopes: [SCOPE], options: { tenantId: TENANT, enableCae: true } });
  });

  it("caches the access token: many requests, one token request and one file read", async () => {
    const cred = credential();
    for (let i = 0; i < 50; i += 1) await cred.getToken(SCOPE);
    await Promise.all(Array.from({ length: 50 }, () => cred.getToken(SCOPE)));
    expect(fake.requests).toHaveLength(1);
    expect(cred.tokenFile.reads()).toBe(1);
    expect(await counter("success")).toBe(1);
    const expiry = await metrics.credentialExpiry.get();
    expect(expiry.values).toEqual([{ labels: { source: "azure-client-assertion" }, value: (NOW + 3_600_000) / 1000 }]);
  });

  it("asks again for a claims challenge (CAE), and per scope", async () => {
    const cred = credential();
    await cred.getToken(SCOPE);
    await cred.getToken(SCOPE, { claims: '{"access_token":{"nbf":{"essential":true,"value":"1"}}}' });
    await cred.getToken("https://management.azure.com/.default");
    expect(fake.requests.map((r) => r.options.claims !== undefined)).toEqual([false, true, false]);
    expect(fake.requests.map((r) => r.scopes[0])).toEqual([SCOPE, SCOPE, "https://management.azure.com/.default"]);
  });

  it("uses the rotated token file for the next token request, and reads an unchanged file once", async () => {
    // Access tokens that have expired by the next call, so each getToken reaches the SDK.
    fake.lifetimeMs = 1_000;
    const cred = credential();
    await cred.getToken(SCOPE);
    clock += 2_000;
    await cred.getToken(SCOPE);
    expect(fake.assertions).toEqual([FIRST, FIRST]);
    expect(cred.tokenFile.reads()).toBe(1);

    await rotate(SECOND);
    clock += 2_000;
    await cred.getToken(SCOPE);
    expect(fake.assertions).toEqual([FIRST, FIRST, SECOND]);
    expect(cred.tokenFile.reads()).toBe(2);
  });

  it("uses the rotated token after invalidate()", async () => {
    const cred = credential();
    await cred.getToken(SCOPE);
    await rotate(SECOND);
    cred.invalidate();
    await cred.getToken(SCOPE);
    expect(fake.assertions).toEqual([FIRST, SECOND]);
  });

  it("refuses an expired assertion before asking Entra: permanent unauthenticated, no token in the error", async () => {
    await rotate(valid("EXPIRED-SECRET-SIGNATURE", NOW / 1000 - 3600));
    const error = await failure(credential().getToken(SCOPE));
    expect(error.reason).toBe("unauthenticated");
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(tokenFile);
    expect(error.message).toContain("expired at 2026-01-01T11:00:00.000Z");
    expect(shown(error)).not.toContain("EXPIRED-SECRET-SIGNATURE");
    expect(fake.assertions).toEqual([]);
    expect(await counter("unauthenticated")).toBe(1);
  });

  it("tolerates clock skew on the assertion's expiry", async () => {
    // Entra tolerates five minutes; so does the local check, so it never refuses what Entra takes.
    await rotate(valid("SKEWED", NOW / 1000 - 240));
    await credential().getToken(SCOPE);
    expect(fake.assertions).toHaveLength(1);
  });

  it("refuses a token file that does not hold a JWT, without quoting it", async () => {
    await rotate("TOP-SECRET-NOT-A-JWT");
    const error = await failure(credential().getToken(SCOPE));
    expect(error.reason).toBe("unauthenticated");
    expect(error.message).toContain("does not hold a JWT");
    expect(shown(error)).not.toContain("TOP-SECRET");

    await rotate(`eyJhbGciOiJSUzI1NiJ9.${Buffer.from("{TOP-SECRET-BROKEN-JSON").toString("base64url")}.sig`);
    expect(shown(await failure(credential().getToken(SCOPE)))).not.toContain("TOP-SECRET");
  });

  it("reports a missing token file as identity_unavailable (retryable)", async () => {
    await rm(tokenFile);
    const error = await failure(credential().getToken(SCOPE));
    expect(error.reason).toBe("identity_unavailable");
    expect(error.retryable).toBe(true);
    expect(await counter("identity_unavailable")).toBe(1);
  });

  it("turns Entra's rejection into permanent unauthenticated with the AADSTS code, and no Entra text", async () => {
    fake.failures.push(entraRejection("invalid_client", 700213, 400));
    const error = await failure(credential().getToken(SCOPE));
    expect(error.reason).toBe("unauthenticated");
    expect(error.retryable).toBe(false);
    expect(error.code).toBe("AADSTS700213");
    expect(error.status).toBe(400);
    expect(error.message).toContain("subject");
    expect(error.cause).toBeUndefined();
    expect(shown(error)).not.toContain("SECRET-SIGNATURE");
    expect(shown(error)).not.toContain("system:serviceaccount");
    expect(await counter("unauthenticated")).toBe(1);
    expect(await counter("success")).toBe(0);
  });

  it.each<[string, Error, string, boolean]>([
    ["Entra unavailable", entraRejection("temporarily_unavailable", 50000, 503), "identity_unavailable", true],
    ["throttled", Object.assign(new Error("x"), { name: "ServerError", errorCode: "", status: 429 }), "throttled", true],
    ["issuer unreachable from Entra", entraRejection("invalid_request", 90061, 400), "identity_unavailable", true],
    ["token endpoint unreachable", Object.assign(new Error("x"), { name: "ClientAuthError", errorCode: "network_error" }), "identity_unavailable", true],
    ["authority metadata unreachable", Object.assign(new Error("x"), { name: "ClientAuthError", errorCode: "openid_config_error" }), "identity_unavailable", true],
    ["authority endpoints unresolvable", Object.assign(new Error("endpoints_resolution_error: x"), { name: "CredentialUnavailableError" }), "identity_unavailable", true],
    ["untrusted authority", Object.assign(new Error("x"), { name: "ClientConfigurationError", errorCode: "untrusted_authority" }), "configuration", false],
    ["unknown tenant", entraRejection("invalid_request", 90002, 400), "configuration", false],
    ["unknown application", entraRejection("unauthorized_client", 700016, 400), "unauthenticated", false],
    ["bad signature", entraRejection("invalid_client", 700027, 400), "unauthenticated", false],
    ["TLS trust", Object.assign(new Error("x"), { name: "RestError", code: "SELF_SIGNED_CERT_IN_CHAIN" }), "identity_unavailable", true],
    ["something else", new TypeError("x"), "internal", false],
  ])("classifies %s", async (_name, thrown, reason, retryable) => {
    fake.failures.push(thrown);
    const error = await failure(credential().getToken(SCOPE));
    expect(error.reason).toBe(reason);
    expect(error.retryable).toBe(retryable);
    expect(shown(error)).not.toContain("SECRET-SIGNATURE");
  });

  it("retries after a failure instead of caching it", async () => {
    fake.failures.push(entraRejection("temporarily_unavailable", 50000, 503));
    const cred = credential();
    await failure(cred.getToken(SCOPE));
    expect((await cred.getToken(SCOPE))?.token).toBe("access-token-2");
    expect(await counter("identity_unavailable")).toBe(1);
    expect(await counter("success")).toBe(1);
  });
});
