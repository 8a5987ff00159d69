import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey } from "jose";
import { isFetchableUrl } from "../eventgrid-config.ts";

/**
 * The signing keys of the token issuers ingest trusts: one JWKS URL for every issuer when
 * configured, otherwise OpenID discovery per issuer. Key sets are fetched lazily, cached
 * (10 min), refetched at most every 30 s when a token names an unknown `kid` (key rotation), and
 * shared between issuers that publish the same `jwks_uri`. When a refresh fails, the keys last
 * loaded keep verifying tokens: issuers publish new keys long before they sign with them, so a
 * short outage of the issuer's JWKS endpoint does not stop deliveries.
 */

/** The keys could not be loaded (network, timeout, bad response): the sender should retry. */
export class SigningKeysUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SigningKeysUnavailableError";
  }
}

export interface IssuerKeys {
  /** The key function for tokens of `issuer` (already checked against the allow-list). */
  forIssuer(issuer: string): Promise<JWTVerifyGetKey>;
  /** Fetches the keys of every issuer now; rejects with the first failure. */
  warmUp(issuers: readonly string[]): Promise<void>;
}

export interface IssuerKeysOptions {
  /** One JWKS for every issuer; otherwise discovery. */
  jwksUrl?: string;
  cacheMaxAgeMs?: number;
  /** Minimum time between two fetches caused by an unknown kid. */
  cooldownMs?: number;
  timeoutMs?: number;
  /** How long a failed discovery is remembered before the next request tries again. */
  discoveryRetryMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

type RemoteKeySet = ReturnType<typeof createRemoteJWKSet>;

const DEFAULTS = { cacheMaxAgeMs: 600_000, cooldownMs: 30_000, timeoutMs: 5_000, discoveryRetryMs: 5_000 } as const;

/**
 * Where an issuer's OpenID configuration lives. Entra's v1 issuer (`https://sts.windows.net/<tid>/`)
 * publishes it under login.microsoftonline.com (whose document names the v1 issuer); every other
 * issuer, Entra v2 included, under `<issuer>/.well-known/openid-configuration`.
 */
export function discoveryUrl(issuer: string): string {
  const v1 = /^https:\/\/sts\.windows\.net\/([0-9a-fA-F-]{36})\/$/.exec(issuer);
  if (v1) return `https://login.microsoftonline.com/${v1[1]}/.well-known/openid-configuration`;
  return `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
}

export function createIssuerKeys(options: IssuerKeysOptions = {}): IssuerKeys {
  return new RemoteIssuerKeys(options);
}

class RemoteIssuerKeys implements IssuerKeys {
  readonly #options: IssuerKeysOptions;
  readonly #now: () => number;
  readonly #byUrl = new Map<string, RemoteKeySet>();
  readonly #byIssuer = new Map<string, { readonly pending: Promise<RemoteKeySet>; failedAt?: number }>();

  constructor(options: IssuerKeysOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async forIssuer(issuer: string): Promise<JWTVerifyGetKey> {
    const keys = await this.#keySet(issuer);
    return async (header, token) => {
      try {
        return await keys(header, token);
      } catch (error) {
        // A definitive answer about this token's key; anything else is a failure to load the set.
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys || error instanceof errors.JOSENotSupported) {
          throw error;
        }
        const stale = keys.jwks();
        if (stale !== undefined) return createLocalJWKSet(stale)(header, token);
        throw new SigningKeysUnavailableError(`the signing keys of ${issuer} could not be loaded`, { cause: error });
      }
    };
  }

  async warmUp(issuers: readonly string[]): Promise<void> {
    const sets = new Set<RemoteKeySet>();
    for (const issuer of issuers) sets.add(await this.#keySet(issuer));
    for (const set of sets) {
      try {
        await set.reload();
      } catch (error) {
        throw new SigningKeysUnavailableError("a signing key set could not be loaded", { cause: error });
      }
    }
  }

  #keySet(issuer: string): Promise<RemoteKeySet> {
    if (this.#options.jwksUrl !== undefined) return Promise.resolve(this.#remote(this.#options.jwksUrl));
    const known = this.#byIssuer.get(issuer);
    const retryAfter = this.#options.discoveryRetryMs ?? DEFAULTS.discoveryRetryMs;
    if (known !== undefined && (known.failedAt === undefined || this.#now() - known.failedAt < retryAfter)) return known.pending;
    const entry: { pending: Promise<RemoteKeySet>; failedAt?: number } = { pending: this.#discover(issuer) };
    // Remember a failure briefly, so that a burst of deliveries during an outage makes one request.
    entry.pending.catch(() => (entry.failedAt = this.#now()));
    this.#byIssuer.set(issuer, entry);
    return entry.pending;
  }

  async #discover(issuer: string): Promise<RemoteKeySet> {
    const url = discoveryUrl(issuer);
    let document: unknown;
    try {
      const response = await (this.#options.fetch ?? fetch)(url, {
        redirect: "error",
        headers: { accept: "application/json" },
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? DEFAULTS.timeoutMs),
      });
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new Error(`HTTP ${response.status}`);
      }
      document = await response.json();
    } catch (error) {
      throw new SigningKeysUnavailableError(`OpenID discovery at ${url} failed`, { cause: error });
    }
    const { issuer: named, jwks_uri: jwksUri } = (document ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery 1.0 section 4.3: the document must name the issuer it was fetched for.
    if (named !== issuer) throw new SigningKeysUnavailableError(`the OpenID configuration at ${url} names another issuer`);
    if (typeof jwksUri !== "string" || !isFetchableUrl(jwksUri)) {
      throw new SigningKeysUnavailableError(`the OpenID configuration at ${url} has no usable jwks_uri (https, or http on loopback)`);
    }
    return this.#remote(jwksUri);
  }

  #remote(url: string): RemoteKeySet {
    let set = this.#byUrl.get(url);
    if (set === undefined) {
      set = createRemoteJWKSet(new URL(url), {
        cacheMaxAge: this.#options.cacheMaxAgeMs ?? DEFAULTS.cacheMaxAgeMs,
        cooldownDuration: this.#options.cooldownMs ?? DEFAULTS.cooldownMs,
        timeoutDuration: this.#options.timeoutMs ?? DEFAULTS.timeoutMs,
        ...(this.#options.fetch === undefined ? {} : { [customFetch]: this.#options.fetch }),
      });
      this.#byUrl.set(url, set);
    }
    return set;
  }
}
