import { readFileSync } from "node:fs";
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { ClientAssertionCredential, type ClientAssertionCredentialOptions } from "@azure/identity";
import { CredmeshError } from "@credmesh/errors";
import { Sensitive, type Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { CachedCredential, DEFAULT_REFRESH, type RefreshPolicy } from "./cached-token.ts";
import { entraError } from "./entra-errors.ts";
import { checkAssertion } from "./jwt-claims.ts";
import { tokenFromFile, type TokenFile } from "./token-file.ts";

/** Entra's public-cloud authority host, @azure/identity's default. */
export const DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com";
const SOURCE = "azure-client-assertion";

/**
 * Configuration of {@link clientAssertionCredential}: an Entra app registration (or user-assigned
 * managed identity) with a federated identity credential that trusts the workload's token issuer.
 */
export interface ClientAssertionConfig {
  /** Entra tenant (directory) id. */
  tenantId: string;
  /** Client (application) id of the app registration or user-assigned managed identity. */
  clientId: string;
  /**
   * The projected service-account token (audience api://AzureADTokenExchange), e.g. a Kubernetes
   * projected volume at /var/run/secrets/azure/tokens/azure-identity-token. Re-read when it changes.
   */
  tokenFile: string;
  /** Entra authority host; default https://login.microsoftonline.com (a sovereign cloud's, or an emulator's). */
  authorityHost?: string;
  /**
   * PEM file of the CA certificates to trust for the authority, replacing Node's default roots for
   * these requests only: for a private authority (the Key Vault emulator, Azure Stack Hub).
   */
  caFile?: string;
  /**
   * Skip MSAL's instance discovery (a call to login.microsoftonline.com that validates the
   * authority) and trust `authorityHost` as configured. Default: true when `authorityHost` is set,
   * false otherwise.
   */
  disableInstanceDiscovery?: boolean;
  /** Retries of the Entra HTTP pipeline on network errors and 5xx; default 3 (the SDK's). */
  maxRetries?: number;
  /** When cached access tokens are refreshed; default {@link DEFAULT_REFRESH}. */
  refresh?: RefreshPolicy;
  /**
   * An assertion whose `exp` is further in the past than this is refused without asking Entra.
   * Default 300, Entra's own tolerance, so the check never refuses what Entra would accept.
   */
  clockSkewSeconds?: number;
}

/** The slice of @azure/identity this module uses; tests substitute a fake. */
export type ClientAssertionSdk = (
  tenantId: string,
  clientId: string,
  getAssertion: () => Promise<string>,
  options: ClientAssertionCredentialOptions,
) => TokenCredential;

const realSdk: ClientAssertionSdk = (tenantId, clientId, getAssertion, options) =>
  new ClientAssertionCredential(tenantId, clientId, getAssertion, options);

interface CachedAccessToken {
  token: Sensitive<string>;
  expiresAt: Date;
  refreshAfter: number | undefined;
}

/** The credential, plus the handles an operator or a test needs. */
export type ClientAssertionTokenCredential = TokenCredential & {
  /** Drops cached access tokens, e.g. after Key Vault rejected one. */
  invalidate(): void;
  /** The token file reader (its `reads()` count shows how often the file was actually read). */
  readonly tokenFile: TokenFile;
};

/**
 * Key Vault access from AWS (or anywhere) without a stored secret: an Azure SDK `TokenCredential`
 * that authenticates as an Entra application with a client assertion — the workload's projected
 * service-account token, trusted by a federated identity credential on the application — through
 * @azure/identity's `ClientAssertionCredential`.
 *
 * The assertion is read from `tokenFile` for every token request and re-read only when the file
 * changed, so a rotated token is used by the next request and a stale one never. An assertion that
 * is not a JWT, or that expired, is refused before Entra is asked. Access tokens are cached per
 * scope and tenant until shortly before expiry. Every failure is a classified CredmeshError whose
 * text holds no token: Entra's rejections of the assertion are permanent `unauthenticated`.
 *
 * @see ../../../shared/SPEC.md section 3 (AWS → Azure)
 */
export function clientAssertionCredential(
  config: ClientAssertionConfig,
  deps: {
    metrics?: Pick<Metrics, "credentialRefreshes" | "credentialExpiry">;
    logger?: Logger;
    sdk?: ClientAssertionSdk;
    now?: () => number;
  } = {},
): ClientAssertionTokenCredential {
  const resolved = resolveConfig(config);
  const now = deps.now ?? Date.now;
  const tokenFile = tokenFromFile(resolved.tokenFile, {
    what: "client assertion token file",
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
  const getAssertion = async (): Promise<string> => {
    const assertion = await tokenFile();
    checkAssertion(assertion, resolved.tokenFile, now(), resolved.clockSkewSeconds);
    return assertion.reveal();
  };
  const inner = (deps.sdk ?? realSdk)(resolved.tenantId, resolved.clientId, getAssertion, {
    authorityHost: resolved.authorityHost,
    disableInstanceDiscovery: resolved.disableInstanceDiscovery,
    ...(resolved.ca === undefined ? {} : { tlsOptions: { ca: resolved.ca } }),
    retryOptions: { maxRetries: resolved.maxRetries },
  });

  const what = `Entra token request for client ${resolved.clientId} in tenant ${resolved.tenantId}`;
  async function fetchToken(scopes: string[], options: GetTokenOptions): Promise<CachedAccessToken> {
    let token: AccessToken | null;
    try {
      token = await inner.getToken(scopes, {
        ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
        ...(options.enableCae === undefined ? {} : { enableCae: options.enableCae }),
        ...(options.claims === undefined ? {} : { claims: options.claims }),
      });
    } catch (error) {
      const failure = entraError(what, error);
      deps.metrics?.credentialRefreshes.inc({ source: SOURCE, outcome: failure.reason });
      throw failure;
    }
    if (!token?.token) {
      deps.metrics?.credentialRefreshes.inc({ source: SOURCE, outcome: "invalid_response" });
      throw new CredmeshError("identity_unavailable", `${what} returned no token`);
    }
    const expiresAt = new Date(token.expiresOnTimestamp);
    deps.metrics?.credentialRefreshes.inc({ source: SOURCE, outcome: "success" });
    deps.metrics?.credentialExpiry.set({ source: SOURCE }, Math.floor(token.expiresOnTimestamp / 1000));
    deps.logger?.info(
      { source: SOURCE, tenantId: resolved.tenantId, clientId: resolved.clientId, scopes, expiresAt: expiresAt.toISOString() },
      "obtained Entra access token with a federated client assertion",
    );
    return { token: new Sensitive(token.token), expiresAt, refreshAfter: token.refreshAfterTimestamp };
  }

  const cache = new Map<string, CachedCredential<CachedAccessToken>>();
  return {
    tokenFile,
    invalidate: () => {
      for (const entry of cache.values()) entry.invalidate();
    },
    async getToken(scopes: string | string[], options: GetTokenOptions = {}): Promise<AccessToken> {
      const list = Array.isArray(scopes) ? [...scopes] : [scopes];
      if (list.length === 0) throw new CredmeshError("configuration", "no scope requested");
      // A claims challenge (CAE) asks for a fresh token that satisfies it: never served from cache.
      const token =
        options.claims !== undefined
          ? await fetchToken(list, options)
          : await cachedFor(list, options).get();
      return {
        token: token.token.reveal(),
        expiresOnTimestamp: token.expiresAt.getTime(),
        ...(token.refreshAfter === undefined ? {} : { refreshAfterTimestamp: token.refreshAfter }),
        tokenType: "Bearer",
      };
    },
  };

  function cachedFor(scopes: string[], options: GetTokenOptions): CachedCredential<CachedAccessToken> {
    const key = JSON.stringify([scopes, options.tenantId ?? "", options.enableCae === true]);
    let entry = cache.get(key);
    if (!entry) {
      // The shared fetch must not carry one caller's abort signal: it serves every caller.
      const shared: GetTokenOptions = {
        ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
        ...(options.enableCae === undefined ? {} : { enableCae: options.enableCae }),
      };
      entry = new CachedCredential(() => fetchToken(scopes, shared), resolved.refresh, now);
      cache.set(key, entry);
    }
    return entry;
  }
}

interface ResolvedConfig {
  tenantId: string;
  clientId: string;
  tokenFile: string;
  authorityHost: string;
  ca: string | undefined;
  disableInstanceDiscovery: boolean;
  maxRetries: number;
  refresh: RefreshPolicy;
  clockSkewSeconds: number;
}

/** Validates the configuration at construction; errors name the setting and the (non-secret) value. */
function resolveConfig(config: ClientAssertionConfig): ResolvedConfig {
  const bad = (setting: string, value: unknown, why: string): CredmeshError =>
    new CredmeshError("configuration", `client assertion credential: ${setting} ${why} (got ${JSON.stringify(value)})`);
  // Entra accepts a tenant GUID or a verified domain; either is one URL path segment.
  if (typeof config.tenantId !== "string" || !/^[0-9A-Za-z][0-9A-Za-z.-]*$/.test(config.tenantId)) {
    throw bad("tenantId", config.tenantId, "must be a tenant id or domain");
  }
  if (typeof config.clientId !== "string" || !/^[0-9A-Za-z-]+$/.test(config.clientId)) {
    throw bad("clientId", config.clientId, "must be an application (client) id");
  }
  if (typeof config.tokenFile !== "string" || config.tokenFile === "") {
    throw bad("tokenFile", config.tokenFile, "must be the path of the projected token file");
  }
  const authorityHost = (config.authorityHost ?? DEFAULT_AUTHORITY_HOST).replace(/\/+$/, "");
  let authority: URL;
  try {
    authority = new URL(authorityHost);
  } catch {
    throw bad("authorityHost", config.authorityHost, "is not a URL");
  }
  if (authority.protocol !== "https:") throw bad("authorityHost", config.authorityHost, "must be an https URL");
  let ca: string | undefined;
  if (config.caFile !== undefined) {
    try {
      ca = readFileSync(config.caFile, "utf8");
    } catch (error) {
      throw new CredmeshError("configuration", `client assertion credential: caFile ${config.caFile} cannot be read`, { cause: error });
    }
    if (!ca.includes("-----BEGIN CERTIFICATE-----")) throw bad("caFile", config.caFile, "holds no PEM certificate");
  }
  const maxRetries = config.maxRetries ?? 3;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) throw bad("maxRetries", config.maxRetries, "must be a non-negative integer");
  const clockSkewSeconds = config.clockSkewSeconds ?? 300;
  if (!Number.isFinite(clockSkewSeconds) || clockSkewSeconds < 0) {
    throw bad("clockSkewSeconds", config.clockSkewSeconds, "must be a non-negative number");
  }
  return {
    tenantId: config.tenantId,
    clientId: config.clientId,
    tokenFile: config.tokenFile,
    authorityHost,
    ca,
    disableInstanceDiscovery: config.disableInstanceDiscovery ?? config.authorityHost !== undefined,
    maxRetries,
    refresh: config.refresh ?? DEFAULT_REFRESH,
    clockSkewSeconds,
  };
}
