import { performance } from "node:perf_hooks";
import { LRUCache } from "lru-cache";
import { CredmeshError, isAvailabilityFailure, toCredmeshError } from "@credmesh/errors";
import { BREAKER_STATE, createClientMetrics, type ClientMetrics, type ReadSource } from "@credmesh/metrics";
import { TAG, readProvenance, sameOrigin } from "@credmesh/replicas";
import { SecretsManagerProvider } from "./aws-provider.ts";
import { KeyVaultProvider } from "./azure-provider.ts";
import { BackendGuard, type BreakerState } from "./backend-guard.ts";
import { logEvent, type ClientEvent } from "./events.ts";
import { freshness, servableStale } from "./freshness.ts";
import { resolveOptions, type BackendOptions, type FailoverClientOptions, type ResolvedOptions } from "./options.ts";
import type { ProvidedSecret, SecretProvider } from "./provider.ts";
import type { BackendRole, OriginReport, SecretRead } from "./read.ts";
import { routeFor, vaultNameOf, type Route, type StoreRef } from "./routes.ts";

/** One store with its adapter and its resilience. */
interface Backend {
  role: BackendRole;
  provider: SecretProvider;
  guard: BackendGuard;
  store: StoreRef;
}

/** What the cache holds per logical name. */
interface Entry {
  role: BackendRole;
  secret: ProvidedSecret;
  origin: OriginReport;
  /** Start of the cloud call that last confirmed this version current. */
  confirmedAt: number;
  failover?: { reason: CredmeshError["reason"]; code?: string | undefined } | undefined;
}

const ROUTES_HELD = 10_000;

/**
 * Reads secrets by their logical name from the primary store and, when the primary is
 * unavailable, from its credmesh replica in the other cloud — with a cache, a circuit breaker per
 * backend, a bulkhead, throttling retries and a deadline on every read. Refusals (access denied,
 * not found, any 4xx) never fail over. Every read says which store served it, from cache or not,
 * how old it is, and which origin version it holds.
 * @see ../README.md
 * @see ../../../shared/SPEC.md section 2 "the failover client library"
 */
export class FailoverClient {
  readonly #settings: ResolvedOptions;
  readonly #primary: Backend;
  readonly #fallback: Backend | undefined;
  readonly #routes = new LRUCache<string, Route>({ max: ROUTES_HELD });
  readonly #cache: LRUCache<string, Entry> | undefined;
  readonly #inflight = new Map<string, Promise<Entry>>();
  readonly #warnedUnreplicated = new Set<string>();
  readonly #now: () => number;
  readonly #metrics: ClientMetrics | undefined;
  readonly #options: FailoverClientOptions;

  constructor(options: FailoverClientOptions) {
    this.#options = options;
    this.#settings = resolveOptions(options);
    this.#now = options.now ?? Date.now;
    this.#metrics = options.metrics ? createClientMetrics(options.metrics.registry) : undefined;
    this.#primary = this.#backend("primary", options.primary, options.providers?.primary);
    this.#fallback = options.fallback ? this.#backend("fallback", options.fallback, options.providers?.fallback) : undefined;
    this.#cache = this.#settings.cache ? new LRUCache<string, Entry>({ max: this.#settings.cache.maxEntries }) : undefined;
  }

  /**
   * The secret named `name` (its name at the origin), within `signal` and the client's deadline.
   * Fails with a classified `CredmeshError`: a refusal of the primary as it is, or — when every
   * store is unavailable and nothing servable is cached — the primary's availability failure.
   */
  async get(name: string, options: { signal?: AbortSignal | undefined } = {}): Promise<SecretRead> {
    return this.#observed(() => this.#read(this.#route(name), options.signal, false));
  }

  /**
   * Checks `name`'s version now, whatever its age in the cache (a rotation the application was
   * told about), and returns the current value.
   */
  async refresh(name: string, options: { signal?: AbortSignal | undefined } = {}): Promise<SecretRead> {
    return this.#observed(() => this.#read(this.#route(name), options.signal, true));
  }

  /** The breakers' states, e.g. for a readiness endpoint. */
  breakerStates(): { primary: BreakerState; fallback?: BreakerState | undefined } {
    return { primary: this.#primary.guard.state, ...(this.#fallback ? { fallback: this.#fallback.guard.state } : {}) };
  }

  /** Drops the cache and closes the SDK clients. */
  close(): void {
    this.#cache?.clear();
    this.#primary.provider.close();
    this.#fallback?.provider.close();
  }

  #backend(role: BackendRole, options: BackendOptions, given: SecretProvider | undefined): Backend {
    const deps = this.#metrics ? { metrics: this.#metrics } : {};
    const provider = given ?? (options.cloud === "aws" ? new SecretsManagerProvider(options, deps) : new KeyVaultProvider(options, deps));
    const store: StoreRef =
      options.cloud === "aws"
        ? { cloud: "aws", account: options.account, region: options.region }
        : { cloud: "azure", vaultUrl: options.vaultUrl, vaultName: options.vaultName ?? vaultNameOf(options.vaultUrl) };
    const guard = new BackendGuard(`${role} ${provider.location}`, this.#settings.guard, (state) => {
      this.#metrics?.clientBreakerState.set({ cloud: provider.cloud, role }, BREAKER_STATE[state === "half-open" ? "halfOpen" : state]);
      this.#emit({ type: "breaker", role, cloud: provider.cloud, state });
    });
    this.#metrics?.clientBreakerState.set({ cloud: provider.cloud, role }, BREAKER_STATE.closed);
    return { role, provider, guard, store };
  }

  #route(name: string): Route {
    let route = this.#routes.get(name);
    if (!route) {
      route = routeFor(name, this.#settings.rules, this.#primary.store, this.#fallback?.store);
      this.#routes.set(name, route);
    }
    if (this.#fallback && route.fallbackName === undefined && !this.#warnedUnreplicated.has(name)) {
      this.#warnedUnreplicated.add(name);
      this.#emit({ type: "not_replicated", name });
    }
    return route;
  }

  async #observed(read: () => Promise<SecretRead>): Promise<SecretRead> {
    const started = performance.now();
    try {
      const result = await read();
      this.#metrics?.clientReads.inc({ cloud: result.servedBy.cloud, role: result.servedBy.role, source: result.source, outcome: "success" });
      this.#metrics?.clientReadDuration.observe({ source: result.source }, (performance.now() - started) / 1000);
      return result;
    } catch (error) {
      const failure = toCredmeshError(error);
      this.#metrics?.clientReads.inc({ cloud: "none", role: "none", source: "cloud", outcome: failure.reason });
      throw failure;
    }
  }

  async #read(route: Route, signal: AbortSignal | undefined, force: boolean): Promise<SecretRead> {
    const settings = this.#settings.cache;
    const entry = this.#cache?.get(route.logicalName);
    if (!settings || !entry) return this.#report(route, await this.#shared(route, undefined, signal), "cloud");
    const state = force ? "expired" : freshness(entry.confirmedAt, this.#now(), settings);
    if (state === "fresh") return this.#report(route, entry, "cache");
    if (state === "refresh-ahead") {
      this.#shared(route, entry, undefined).catch(() => undefined);
      return this.#report(route, entry, "cache");
    }
    try {
      return this.#report(route, await this.#shared(route, entry, signal), "cloud");
    } catch (error) {
      if (!isAvailabilityFailure(error) || !servableStale(entry.confirmedAt, this.#now(), settings) || signal?.aborted) throw error;
      const failure = toCredmeshError(error);
      const read = this.#report(route, entry, "stale", failure);
      this.#emit({ type: "stale_served", name: route.logicalName, ageMs: read.ageMs, reason: failure.reason });
      return read;
    }
  }

  /**
   * Single flight: concurrent reads (and the background refresh) of one name share one cloud
   * fetch, which runs within the client's own deadline; each caller still stops waiting at its
   * own signal. The outcome updates the cache once.
   */
  #shared(route: Route, previous: Entry | undefined, signal: AbortSignal | undefined): Promise<Entry> {
    const name = route.logicalName;
    let flight = this.#inflight.get(name);
    if (!flight) {
      flight = this.#fetch(route, previous, AbortSignal.timeout(this.#settings.deadlineMs)).then(
        (entry) => {
          this.#cache?.set(name, entry);
          this.#metrics?.clientCacheEntries.set(this.#cache?.size ?? 0);
          return entry;
        },
        (error: unknown) => {
          // A refusal is the store's answer: the cached value must not outlive it.
          if (!isAvailabilityFailure(error)) this.#cache?.delete(name);
          this.#metrics?.clientCacheEntries.set(this.#cache?.size ?? 0);
          if (previous) {
            const failure = toCredmeshError(error);
            this.#metrics?.clientRefreshes.inc({ outcome: "failed" });
            this.#emit({ type: "refresh_failed", name, reason: failure.reason, code: failure.code });
          }
          throw error;
        },
      );
      const settled = flight.finally(() => this.#inflight.delete(name));
      settled.catch(() => undefined);
      this.#inflight.set(name, settled);
      flight = settled;
    }
    return untilAborted(flight, signal);
  }

  /** Primary first; the fallback only when the primary is unavailable and a rule replicates the secret there. */
  async #fetch(route: Route, previous: Entry | undefined, signal: AbortSignal): Promise<Entry> {
    let primaryFailure: CredmeshError;
    try {
      return await this.#fromBackend(this.#primary, route.primaryName, route, previous, signal);
    } catch (error) {
      primaryFailure = toCredmeshError(error);
    }
    const fallback = this.#fallback;
    const canFailOver = isAvailabilityFailure(primaryFailure) && fallback !== undefined && route.fallbackName !== undefined && !signal.aborted;
    if (!canFailOver || !fallback || route.fallbackName === undefined) {
      this.#emit({ type: "read_failed", name: route.logicalName, reason: primaryFailure.reason, code: primaryFailure.code, fallbackAsked: false });
      throw primaryFailure;
    }
    try {
      const entry = await this.#fromBackend(fallback, route.fallbackName, route, previous, signal);
      const failover = { reason: primaryFailure.reason, ...(primaryFailure.code ? { code: primaryFailure.code } : {}) };
      this.#metrics?.clientFailovers.inc({
        from: this.#primary.provider.cloud,
        to: fallback.provider.cloud,
        reason: primaryFailure.code === "CircuitOpen" ? "circuit_open" : primaryFailure.reason,
      });
      this.#emit({ type: "failover", name: route.logicalName, from: this.#primary.provider.cloud, to: fallback.provider.cloud, ...failover });
      return { ...entry, failover };
    } catch (error) {
      const fallbackFailure = toCredmeshError(error);
      this.#emit({ type: "read_failed", name: route.logicalName, reason: fallbackFailure.reason, code: fallbackFailure.code, fallbackAsked: true });
      // The primary's outage is the story; the fallback's failure is kept as the cause.
      throw new CredmeshError(
        primaryFailure.reason,
        `${route.logicalName}: primary unavailable (${primaryFailure.code ?? primaryFailure.reason}), fallback failed (${fallbackFailure.code ?? fallbackFailure.reason})`,
        { cause: fallbackFailure, ...(primaryFailure.code ? { code: primaryFailure.code } : {}) },
      );
    }
  }

  /**
   * One store's answer. With a cached entry from the same store, the version is checked first and
   * the value read only when it changed (Secrets Manager DescribeSecret, then GetSecretValue of
   * that version; Key Vault's check is its read). A replica's provenance must name the route's
   * origin, or it is refused: a secret that merely has the mapped name is not a copy of this one.
   */
  async #fromBackend(backend: Backend, storeName: string, route: Route, previous: Entry | undefined, signal: AbortSignal): Promise<Entry> {
    const replica = backend.provider.cloud !== route.origin.cloud;
    const startedAt = this.#now();
    const checking = previous !== undefined && previous.role === backend.role && previous.secret.name === storeName;
    const answer = await backend.guard.run(async (attemptSignal) => {
      const ctx = { signal: attemptSignal };
      if (checking || (replica && backend.provider.cloud === "aws")) {
        const current = await backend.provider.currentVersion(storeName, ctx);
        if (checking && current.versionId === previous.secret.versionId) return { secret: previous.secret, tags: current.tags, changed: false };
        const secret = current.secret ?? (await backend.provider.get(storeName, ctx, { versionId: current.versionId }));
        return { secret, tags: current.tags, changed: true };
      }
      const secret = await backend.provider.get(storeName, ctx);
      return { secret, tags: secret.tags ?? {}, changed: true };
    }, signal);
    const origin = replica ? this.#replicaOrigin(backend, storeName, route, answer.tags) : originReport(route, answer.secret.versionId);
    if (checking) {
      this.#metrics?.clientRefreshes.inc({ outcome: answer.changed ? "changed" : "unchanged" });
      this.#emit({ type: "refresh", name: route.logicalName, outcome: answer.changed ? "changed" : "unchanged", role: backend.role, versionId: answer.secret.versionId });
    }
    return { role: backend.role, secret: answer.secret, origin, confirmedAt: startedAt };
  }

  #replicaOrigin(backend: Backend, storeName: string, route: Route, tags: Readonly<Record<string, string>>): OriginReport {
    const provenance = readProvenance(tags);
    const where = `${backend.role} ${backend.provider.cloud} secret ${storeName}`;
    if (!provenance) throw new CredmeshError("unmanaged_destination", `${where} is not a credmesh replica of ${route.logicalName}`);
    if (!sameOrigin(provenance.origin, route.origin)) {
      throw new CredmeshError("name_collision", `${where} is a credmesh replica of another secret than ${route.logicalName}`);
    }
    const replicatedTag = tags[TAG.replicatedAt];
    const replicatedAt = replicatedTag ? new Date(replicatedTag) : undefined;
    return {
      cloud: provenance.origin.cloud,
      name: route.logicalName,
      version: provenance.version,
      versionCreatedAt: provenance.versionCreatedAt,
      replicatedAt: replicatedAt && !Number.isNaN(replicatedAt.getTime()) ? replicatedAt : undefined,
      replica: true,
    };
  }

  #report(route: Route, entry: Entry, source: ReadSource, staleBecause?: CredmeshError): SecretRead {
    const backend = entry.role === "primary" ? this.#primary : (this.#fallback ?? this.#primary);
    return {
      name: route.logicalName,
      value: entry.secret.value,
      encoding: entry.secret.encoding,
      versionId: entry.secret.versionId,
      servedBy: { role: entry.role, cloud: backend.provider.cloud, location: backend.provider.location, name: entry.secret.name },
      source,
      ageMs: Math.max(0, this.#now() - entry.confirmedAt),
      origin: entry.origin,
      ...(entry.failover ? { failover: entry.failover } : {}),
      ...(staleBecause ? { staleBecause: staleBecause.toRecord() } : {}),
    };
  }

  #emit(event: ClientEvent): void {
    if (this.#options.logger) logEvent(this.#options.logger, event);
    this.#options.onEvent?.(event);
  }
}

function originReport(route: Route, versionId: string): OriginReport {
  return { cloud: route.origin.cloud, name: route.logicalName, version: versionId, replica: false };
}

/** Resolves or rejects with `promise`, or rejects as a `timeout` once `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  const aborted = (): CredmeshError => new CredmeshError("timeout", "read aborted by the caller's deadline", { cause: signal.reason });
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(aborted());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error instanceof Error ? error : toCredmeshError(error));
      },
    );
  });
}
