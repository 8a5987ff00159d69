import { readFileSync } from "node:fs";
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { ClientAssertionCredential, type ClientAssertionCredentialOptions } from "@azure/identity";
import { CredmeshError } from "@credmesh/errors";
import { Sensitive, type Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { CachedCredential, DEFAULT_REFRESH, type RefreshPolicy } from "./cached-token.ts";
import { entraError } from "./entra-errors.ts";
import type { ClockSkewGuard } from "./clock-skew.ts";
import { checkAssertion } from "./jwt-claims.ts";
import { tokenFromFile, type TokenFile } from "./token-file.ts";

/** Entra's public-cloud authority host, @azure/identity's default. */
export const DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com";
const SOURCE = "azure-client-assertion";

/**
 * The Entra application a cell authenticates as with a federated client assertion: an app
 * registration (or user-assigned managed identity) whose federated identity credential trusts
 * the issuer of the assertions.
 */
export interface EntraApplication {
  /** Entra tenant (directory) id. */
  tenantId: string;
  /** Client (application) id of the app registration or user-assigned managed identity. */
  clientId: string;
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

/**
 * Configuration of {@link clientAssertionCredential} with the assertion read from a file: the
 * projected service-account token of a workload (workload identity federation).
 */
export interface ClientAssertionConfig extends EntraApplication {
  /**
   * The projected service-account token (audience api://AzureADTokenExchange), e.g. a Kubernetes
   * projected volume at /var/run/secrets/azure/tokens/azure-identity-token. Re-read when it changes.
   */
  tokenFile: string;
}

/**
 * Where client assertions come from: called whenever Entra must be asked for an access token,
 * so it returns a currently valid assertion (a token file's content, or a token STS just minted).
 */
export interface AssertionSource {
  (): Promise<Sensitive<string>>;
  /** Names the source in errors, e.g. "client assertion token file /var/run/...". */
  readonly what: string;
  /** True when each call mints a new token (its issued-at is "now" on the issuer's clock). */
  readonly freshlyIssued: boolean;
}

/** A token file as an {@link AssertionSource}. */
export function fileAssertion(tokenFile: TokenFile): AssertionSource {
  return Object.assign(() => tokenFile(), { what: `client assertion token file ${tokenFile.path}`, freshlyIssued: false });
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

/** What an Azure SDK client asks a TokenCredential for, as a value. */
export interface AzureTokenRequest {
  scopes: string[];
  tenantId?: string;
  enableCae?: boolean;
  /** A claims challenge (CAE): never served from a cache. */
  claims?: string;
}

/** An Entra access token as credmesh caches it. */
export interface AzureAccessToken {
  token: Sensitive<string>;
  expiresAt: Date;
  refreshAfter?: number | undefined;
}

/** The credential, plus the handles an operator or a test needs. */
export type ClientAssertionTokenCredential = TokenCredential & {
  /** Drops cached access tokens, e.g. after Key Vault rejected one. */
  invalidate(): void;
  /** The token file reader (its `reads()` count shows how often the file was actually read). */
  readonly tokenFile: TokenFile;
};

/** Dependencies of the Entra exchange; everything is optional. */
export interface EntraAssertionDeps {
  /** Counted under `source` (default `azure-client-assertion`); chains count for themselves and pass none. */
  metrics?: Pick<Metrics, "credentialRefreshes" | "credentialExpiry">;
  source?: string;
  logger?: Logger;
  sdk?: ClientAssertionSdk;
  now?: () => number;
  /** Checks each assertion's issued-at against the local clock before it is sent. */
  clockSkew?: { guard: ClockSkewGuard; source: string };
}

/**
 * Entra access tokens for an application, obtained with client assertions from `assertion`
 * through @azure/identity's `ClientAssertionCredential`, one exchange per call (not cached here:
 * {@link clientAssertionCredential} or a credential chain caches). Before an assertion leaves the
 * process it must be a JWT that has not expired (beyond `clockSkewSeconds`) and, with a
 * `clockSkew` guard, whose issued-at is within tolerance of the local clock. Every failure is a
 * classified CredmeshError whose text holds no token; Entra's rejections of the assertion are
 * permanent `unauthenticated`.
 */
export function entraAssertionFetcher(
  app: EntraApplication,
  assertion: AssertionSource,
  deps: EntraAssertionDeps = {},
): (request: AzureTokenRequest) => Promise<AzureAccessToken> {
  const resolved = resolveConfig(app);
  const now = deps.now ?? Date.now;
  const source = deps.source ?? SOURCE;
  // MSAL asks for the assertion twice per token request (once for the request, once for its
  // client configuration): one assertion, obtained and checked once, serves a whole request, so a
  // minted assertion (STS GetWebIdentityToken) costs one call per exchange.
  let current: Promise<Sensitive<string>> | undefined;
  const checked = async (): Promise<Sensitive<string>> => {
    const token = await assertion();
    // Skew first: it explains an assertion that looks expired only because the clock is wrong.
    deps.clockSkew?.guard.check(token, { source: deps.clockSkew.source, what: `the client assertion from ${assertion.what}`, freshlyIssued: assertion.freshlyIssued });
    checkAssertion(token, assertion.what, now(), resolved.clockSkewSeconds);
    return token;
  };
  const getAssertion = async (): Promise<string> => (await (current ??= checked())).reveal();
  const inner = (deps.sdk ?? realSdk)(resolved.tenantId, resolved.clientId, getAssertion, {
    authorityHost: resolved.authorityHost,
    disableInstanceDiscovery: resolved.disableInstanceDiscovery,
    ...(resolved.ca === undefined ? {} : { tlsOptions: { ca: resolved.ca } }),
    retryOptions: { maxRetries: resolved.maxRetries },
  });

  const what = `Entra token request for client ${resolved.clientId} in tenant ${resolved.tenantId}`;
  return async (request) => {
    current = undefined;
    let token: AccessToken | null;
    try {
      token = await inner.getToken(request.scopes, {
        ...(request.tenantId === undefined ? {} : { tenantId: request.tenantId }),
        ...(request.enableCae === undefined ? {} : { enableCae: request.enableCae }),
        ...(request.claims === undefined ? {} : { claims: request.claims }),
      });
    } catch (error) {
      const failure = entraError(what, error);
      deps.metrics?.credentialRefreshes.inc({ source, outcome: failure.reason });
      throw failure;
    }
    if (!token?.token) {
      deps.metrics?.credentialRefreshes.inc({ source, outcome: "invalid_response" });
      throw new CredmeshError("identity_unavailable", `${what} returned no token`);
    }
    const expiresAt = new Date(token.expiresOnTimestamp);
    deps.metrics?.credentialRefreshes.inc({ source, outcome: "success" });
    deps.metrics?.credentialExpiry.set({ source }, Math.floor(token.expiresOnTimestamp / 1000));
    deps.logger?.info(
      { source, tenantId: resolved.tenantId, clientId: resolved.clientId, scopes: request.scopes, assertion: assertion.what, expiresAt: expiresAt.toISOString() },
      "obtained Entra access token with a federated client assertion",
    );
    return { token: new Sensitive(token.token), expiresAt, refreshAfter: token.refreshAfterTimestamp };
  };
}

/** The request an SDK `getToken` call makes, as a value; a claims challenge is kept apart. */
export function tokenRequestOf(scopes: string | string[], options: GetTokenOptions = {}): AzureTokenRequest {
  const list = Array.isArray(scopes) ? [...scopes] : [scopes];
  if (list.length === 0) throw new CredmeshError("configuration", "no scope requested");
  return {
    scopes: list,
    ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
    ...(options.enableCae === undefined ? {} : { enableCae: options.enableCae }),
    ...(options.claims === undefined ? {} : { claims: options.claims }),
  };
}

/** The cache key of a request: tokens differ per scope, tenant and CAE capability. */
export function tokenCacheKey(request: AzureTokenRequest): string {
  return JSON.stringify([request.scopes, request.tenantId ?? "", request.enableCae === true]);
}

/** An SDK AccessToken from a cached one. */
export function accessTokenOf(token: AzureAccessToken): AccessToken {
  return {
    token: token.token.reveal(),
    expiresOnTimestamp: token.expiresAt.getTime(),
    ...(token.refreshAfter === undefined ? {} : { refreshAfterTimestamp: token.refreshAfter }),
    tokenType: "Bearer",
  };
}

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
 * For assertions from elsewhere (STS GetWebIdentityToken), use {@link entraAssertionFetcher} in a
 * credential chain.
 *
 * @see ../../../shared/SPEC.md section 3 (AWS → Azure)
 */
export function clientAssertionCredential(
  config: ClientAssertionConfig,
  deps: Omit<EntraAssertionDeps, "source"> = {},
): ClientAssertionTokenCredential {
  if (typeof config.tokenFile !== "string" || config.tokenFile === "") {
    throw new CredmeshError(
      "configuration",
      `client assertion credential: tokenFile must be the path of the projected token file (got ${JSON.stringify(config.tokenFile)})`,
    );
  }
  const tokenFile = tokenFromFile(config.tokenFile, {
    what: "client assertion token file",
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
  const fetchToken = entraAssertionFetcher(config, fileAssertion(tokenFile), deps);
  const cache = new Map<string, CachedCredential<AzureAccessToken>>();
  return {
    tokenFile,
    invalidate: () => {
      for (const entry of cache.values()) entry.invalidate();
    },
    async getToken(scopes: string | string[], options: GetTokenOptions = {}): Promise<AccessToken> {
      const request = tokenRequestOf(scopes, options);
      // A claims challenge (CAE) asks for a fresh token that satisfies it: never served from cache.
      if (request.claims !== undefined) return accessTokenOf(await fetchToken(request));
      const key = tokenCacheKey(request);
      let entry = cache.get(key);
      if (!entry) {
        // The shared fetch must not carry one caller's abort signal: it serves every caller.
        entry = new CachedCredential(() => fetchToken(request), config.refresh ?? DEFAULT_REFRESH, deps.now ?? Date.now);
        cache.set(key, entry);
      }
      return accessTokenOf(await entry.get());
    },
  };
}

interface ResolvedConfig {
  tenantId: string;
  clientId: string;
  authorityHost: string;
  ca: string | undefined;
  disableInstanceDiscovery: boolean;
  maxRetries: number;
  refresh: RefreshPolicy;
  clockSkewSeconds: number;
}

/** Validates the configuration at construction; errors name the setting and the (non-secret) value. */
function resolveConfig(config: EntraApplication): ResolvedConfig {
  const bad = (setting: string, value: unknown, why: string): CredmeshError =>
    new CredmeshError("configuration", `client assertion credential: ${setting} ${why} (got ${JSON.stringify(value)})`);
  // Entra accepts a tenant GUID or a verified domain; either is one URL path segment.
  if (typeof config.tenantId !== "string" || !/^[0-9A-Za-z][0-9A-Za-z.-]*$/.test(config.tenantId)) {
    throw bad("tenantId", config.tenantId, "must be a tenant id or domain");
  }
  if (typeof config.clientId !== "string" || !/^[0-9A-Za-z-]+$/.test(config.clientId)) {
    throw bad("clientId", config.clientId, "must be an application (client) id");
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
    authorityHost,
    ca,
    disableInstanceDiscovery: config.disableInstanceDiscovery ?? config.authorityHost !== undefined,
    maxRetries,
    refresh: config.refresh ?? DEFAULT_REFRESH,
    clockSkewSeconds,
  };
}
