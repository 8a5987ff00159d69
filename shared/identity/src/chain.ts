import { CredmeshError, toCredmeshError } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { CachedCredential, DEFAULT_REFRESH, type Expiring, type RefreshPolicy } from "./cached-token.ts";

/**
 * One way of obtaining a credential, tried by a {@link CredentialChain}. `fetch` asks the source
 * for a fresh credential every time (the chain caches); it throws a CredmeshError whose reason
 * `identity_unavailable` means "this source cannot be used here" (not configured, its token file
 * missing, its endpoint unreachable) and every other reason means "this source is the one, and it
 * failed".
 */
export interface ChainSource<K, T extends Expiring> {
  /** The source's configuration name, e.g. `web-identity-token-file`. */
  readonly name: string;
  fetch(request: K): Promise<T>;
}

export interface CredentialChainOptions {
  /**
   * What the chain provides, `aws` or `azure`: the first part of each source's metric label
   * (`aws/web-identity-token-file`) and the subject of its log lines and errors.
   */
  name: string;
  metrics?: Pick<Metrics, "credentialRefreshes" | "credentialExpiry">;
  logger?: Logger;
  /** When a cached credential is refreshed; default {@link DEFAULT_REFRESH}. */
  refresh?: RefreshPolicy;
  now?: () => number;
}

/**
 * A source that is listed but lacks its settings in this deployment: it is skipped as
 * unavailable, so one configuration can serve cells that run in different places (e.g.
 * `web-identity-token-file,azure-managed-identity`: the token file exists only on EKS).
 */
export function unconfiguredSource<K, T extends Expiring>(name: string, missing: readonly string[]): ChainSource<K, T> {
  return {
    name,
    fetch: () =>
      Promise.reject(
        new CredmeshError("identity_unavailable", `source ${name} is not configured (${missing.join(", ")} not set)`, { code: "NotConfigured" }),
      ),
  };
}

/**
 * An explicit credential provider chain (STYLE: "Credential providers form explicit chains").
 *
 * Sources are tried in order. The chain moves on only when a source is unavailable
 * (`identity_unavailable`); any other failure — a real authentication failure (`unauthenticated`,
 * `access_denied`), but also throttling or a network error on the way to the token service —
 * stops it with an error that names the source, because the next source would either hide a
 * misconfiguration or fail in the same way. The credential that wins is memoised per request key
 * and refreshed before expiry ({@link CachedCredential}), so token services see about one call per
 * credential lifetime; each refresh walks the chain from the top again, so a preferred source that
 * becomes available is picked up. The winning source is logged when it changes. Every attempt is
 * counted in `credmesh_credential_refreshes_total{source="<chain>/<source>", outcome}`.
 *
 * @see ../../../shared/SPEC.md section 3
 */
export class CredentialChain<K, T extends Expiring> {
  readonly name: string;
  readonly #sources: readonly ChainSource<K, T>[];
  readonly #options: CredentialChainOptions;
  readonly #caches = new Map<string, CachedCredential<T>>();
  #winner: string | undefined;

  constructor(sources: readonly ChainSource<K, T>[], options: CredentialChainOptions) {
    if (sources.length === 0) throw new CredmeshError("configuration", `the ${options.name} credential chain has no source`);
    const names = sources.map((source) => source.name);
    const duplicate = names.find((name, index) => names.indexOf(name) !== index);
    if (duplicate !== undefined) throw new CredmeshError("configuration", `the ${options.name} credential chain lists ${duplicate} twice`);
    this.name = options.name;
    this.#sources = sources;
    this.#options = options;
  }

  /** The sources' names, in the order they are tried. */
  get sources(): readonly string[] {
    return this.#sources.map((source) => source.name);
  }

  /** The source that provided the last credential, if any did. */
  get winner(): string | undefined {
    return this.#winner;
  }

  /** The metric label of a source: `<chain>/<source>`. */
  label(source: string): string {
    return `${this.name}/${source}`;
  }

  /**
   * The memoised credential for `request`; `cacheKey` tells requests apart that need different
   * credentials (e.g. Azure scopes). Concurrent callers share one walk of the chain.
   */
  get(request: K, cacheKey = ""): Promise<T> {
    let cache = this.#caches.get(cacheKey);
    if (!cache) {
      cache = new CachedCredential(() => this.resolve(request), this.#options.refresh ?? DEFAULT_REFRESH, this.#options.now ?? Date.now);
      this.#caches.set(cacheKey, cache);
    }
    return cache.get();
  }

  /** Drops every memoised credential, e.g. after a service rejected one as expired. */
  invalidate(): void {
    for (const cache of this.#caches.values()) cache.invalidate();
  }

  /** Walks the chain once, without the cache (a claims challenge needs a fresh token). */
  async resolve(request: K): Promise<T> {
    const metrics = this.#options.metrics;
    const logger = this.#options.logger;
    const skipped: { source: string; failure: CredmeshError }[] = [];
    for (const source of this.#sources) {
      const label = this.label(source.name);
      let value: T;
      try {
        value = await source.fetch(request);
      } catch (error) {
        const failure = toCredmeshError(error);
        metrics?.credentialRefreshes.inc({ source: label, outcome: failure.reason });
        if (failure.reason === "identity_unavailable") {
          logger?.debug({ chain: this.name, source: source.name, reason: failure.reason, code: failure.code, error: failure.message }, "credential source unavailable; trying the next");
          skipped.push({ source: source.name, failure });
          continue;
        }
        throw new CredmeshError(failure.reason, `${this.name} credential source ${source.name} failed: ${failure.message}`, {
          cause: failure,
          ...(failure.code === undefined ? {} : { code: failure.code }),
          ...(failure.status === undefined ? {} : { status: failure.status }),
          ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
        });
      }
      metrics?.credentialRefreshes.inc({ source: label, outcome: "success" });
      metrics?.credentialExpiry.set({ source: label }, Math.floor(value.expiresAt.getTime() / 1000));
      const previous = this.#winner;
      if (previous !== source.name) {
        this.#winner = source.name;
        const fields = {
          chain: this.name,
          source: source.name,
          ...(previous === undefined ? {} : { previous }),
          skipped: skipped.map((entry) => ({ source: entry.source, code: entry.failure.code, error: entry.failure.message })),
          expiresAt: value.expiresAt.toISOString(),
        };
        // A fallback away from a source that used to work deserves attention; the first choice does not.
        if (previous === undefined) logger?.info(fields, `${this.name} credentials from source ${source.name}`);
        else logger?.warn(fields, `${this.name} credentials now from source ${source.name} (was ${previous})`);
      } else {
        logger?.debug({ chain: this.name, source: source.name, expiresAt: value.expiresAt.toISOString() }, "credentials refreshed");
      }
      return value;
    }
    throw new CredmeshError(
      "identity_unavailable",
      `no ${this.name} credential source is available: ${skipped.map((entry) => `${entry.source}: ${entry.failure.message}`).join("; ")}`,
      { code: "NoSourceAvailable" },
    );
  }
}
