/**
 * Test-side plumbing for talking to the emulator: an IMDS token credential, a SecretClient factory
 * wired the way the product adapter must be, and a raw HTTPS JSON helper.
 *
 * Types are taken from `@azure/keyvault-secrets` itself (constructor and option types) so the tests
 * do not import the SDK's transitive packages directly.
 */
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { SecretClient } from "@azure/keyvault-secrets";
import type { SecretClientOptions } from "@azure/keyvault-secrets";
import type { KeyVaultEmulator } from "./emulator.ts";

/** The SDK's `TokenCredential`, as SecretClient declares it. */
export type TokenCredential = ConstructorParameters<typeof SecretClient>[1];
/** A pipeline policy as `additionalPolicies` takes it. */
type AdditionalPolicy = NonNullable<SecretClientOptions["additionalPolicies"]>[number];

/** A raw HTTPS response with its body parsed as JSON when it is JSON. */
export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

/**
 * Polls `condition` every `intervalMs` until it holds, for at most `timeoutMs`: the emulator's
 * asynchrony runs on the real clock, so tests wait for what they expect instead of sleeping.
 */
export async function until(condition: () => Promise<boolean>, { intervalMs = 25, timeoutMs = 20_000 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Sends one HTTPS request trusting only `ca`. */
export function httpsJson(
  url: string,
  options: { ca: string | Buffer; method?: string; headers?: Record<string, string>; body?: string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? "GET", headers: options.headers, ca: options.ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        if (String(res.headers["content-type"] ?? "").startsWith("application/json")) body = JSON.parse(text);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

/**
 * A managed-identity credential against the emulator's IMDS endpoint, like the SDK's
 * ManagedIdentityCredential but over HTTPS with an explicit CA. Counts its token requests.
 */
export function imdsCredential(
  tokenEndpoint: string,
  ca: string | Buffer,
  clientId?: string,
): TokenCredential & { readonly requests: () => number } {
  let requests = 0;
  return {
    requests: () => requests,
    async getToken(scopes) {
      const scope = Array.isArray(scopes) ? scopes[0] : scopes;
      if (typeof scope !== "string") throw new Error("a scope is required");
      // Azure Identity turns the v2 scope "<resource>/.default" into the IMDS resource the same way.
      const url = new URL(tokenEndpoint);
      url.searchParams.set("api-version", "2018-02-01");
      url.searchParams.set("resource", scope.replace(/\/\.default$/, ""));
      if (clientId !== undefined) url.searchParams.set("client_id", clientId);
      requests++;
      const res = await httpsJson(url.toString(), { ca, headers: { Metadata: "true" } });
      if (res.status !== 200) throw new Error(`IMDS answered ${res.status}: ${JSON.stringify(res.body)}`);
      const body = res.body as { access_token: string; expires_on: string };
      return { token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000, tokenType: "Bearer" };
    },
  };
}

/** A credential that hands out a fixed token, for presenting forged or foreign tokens. */
export function staticCredential(token: string): TokenCredential {
  return {
    getToken: () => Promise.resolve({ token, expiresOnTimestamp: Date.now() + 3_600_000, tokenType: "Bearer" }),
  };
}

/**
 * How a client is made to trust the emulator's CA. All three work with @azure/core-rest-pipeline
 * 1.25 (see the TLS tests); `tlsOptions` is the simplest and the one the product adapter should use.
 */
export type TlsTrust = "tlsOptions" | "tlsSettingsPolicy" | "agentPolicy" | "none";

/** Options of {@link createSecretClient}. */
export interface ClientSetup {
  readonly trust?: TlsTrust;
  readonly credential?: TokenCredential;
  /** Default true; false shows what the SDK does with a challenge from 127.0.0.1. */
  readonly disableChallengeResourceVerification?: boolean;
  readonly retryOptions?: SecretClientOptions["retryOptions"];
  /** Extra pipeline policies (after the trust policy, when there is one). */
  readonly additionalPolicies?: readonly AdditionalPolicy[];
}

/** A SecretClient for the emulator, configured as a real deployment's client would be, plus TLS trust. */
export function createSecretClient(emulator: KeyVaultEmulator, setup: ClientSetup = {}): SecretClient {
  const ca = readFileSync(emulator.caCertPath);
  const trust = setup.trust ?? "tlsOptions";
  const options: SecretClientOptions = {
    // The SDK only accepts a challenge whose resource host is a suffix of the vault host
    // (`*.vault.azure.net`), which 127.0.0.1 can never be.
    disableChallengeResourceVerification: setup.disableChallengeResourceVerification ?? true,
    ...(setup.retryOptions === undefined ? {} : { retryOptions: setup.retryOptions }),
    ...(trust === "tlsOptions" ? { tlsOptions: { ca } } : {}),
    additionalPolicies: [
      ...(trust === "tlsSettingsPolicy" || trust === "agentPolicy" ? [trustPolicy(trust, ca)] : []),
      ...(setup.additionalPolicies ?? []),
    ],
  };
  return new SecretClient(emulator.vaultUrl, setup.credential ?? imdsCredential(emulator.tokenEndpoint, ca), options);
}

function trustPolicy(trust: "tlsSettingsPolicy" | "agentPolicy", ca: Buffer): AdditionalPolicy {
  // One settings object / agent for all requests: the node HTTP client caches agents in a WeakMap
  // keyed by the tlsSettings object, so a fresh object per request would mean a fresh agent too.
  const tlsSettings = { ca };
  const agent = new Agent({ ca, keepAlive: true });
  return {
    position: "perCall",
    policy: {
      name: `emulatorTrust-${trust}`,
      sendRequest(req, next) {
        if (trust === "tlsSettingsPolicy") req.tlsSettings = tlsSettings;
        else req.agent = agent;
        return next(req);
      },
    },
  };
}
