import { isCredmeshError } from "@credmesh/errors";
import type { Sensitive } from "@credmesh/logging";
import type {
  DeleteOptions,
  DeleteResult,
  ListOptions,
  ListedSecret,
  PutOptions,
  SecretDescription,
  SecretRead,
  SecretVersion,
  VaultContext,
  VaultPort,
  VersionInfo,
} from "../port.ts";
import type { RateLimitSettings, VaultOperation } from "./settings.ts";
import { VaultRateLimiter, type LimiterMetrics } from "./vault-rate-limiter.ts";

/**
 * A vault port that waits for its vault's rate limiter before every call and tells the limiter
 * when the cloud throttled, so the adapters stay simple. Errors pass through unchanged: retrying
 * (Retry-After first, under the retry budget) is the caller's job.
 */
export class RateLimitedVault implements VaultPort {
  readonly cloud: "aws" | "azure";
  readonly tagsPerVersion: boolean;
  readonly #inner: VaultPort;
  readonly #limiter: VaultRateLimiter;
  /** Errors the limiter itself raised while pacing pages: they must not pause the vault. */
  readonly #refusals = new WeakSet<object>();

  constructor(inner: VaultPort, limiter: VaultRateLimiter) {
    if (inner.cloud !== limiter.cloud) throw new RangeError(`a ${limiter.cloud} rate limiter cannot limit a ${inner.cloud} vault`);
    this.cloud = inner.cloud;
    this.tagsPerVersion = inner.tagsPerVersion;
    this.#inner = inner;
    this.#limiter = limiter;
  }

  /** Costs a value read; a missing Key Vault secret's second request (deleted or absent) rides on the describe share of the quota gap. */
  read(name: string, ctx: VaultContext): Promise<SecretRead> {
    return this.#run("get", ctx, () => this.#inner.read(name, ctx));
  }

  /** Costs a token per page request: the adapter takes each through the context's `pace` just before it asks for the page. */
  versions(name: string, ctx: VaultContext, limit?: number): Promise<VersionInfo[]> {
    return this.#outcome("versions", ctx, () => this.#inner.versions(name, this.#paced(ctx), limit));
  }

  get(name: string, ctx: VaultContext, options?: { versionId?: string }): Promise<SecretVersion | undefined> {
    return this.#run("get", ctx, () => this.#inner.get(name, ctx, options));
  }

  describe(name: string, ctx: VaultContext, options?: { deletedLookup?: boolean }): Promise<SecretDescription> {
    return this.#run("describe", ctx, () => this.#inner.describe(name, ctx, options));
  }

  put(name: string, value: Sensitive<string>, options: PutOptions, ctx: VaultContext): Promise<{ versionId: string }> {
    return this.#run("put", ctx, () => this.#inner.put(name, value, options, ctx));
  }

  delete(name: string, options: DeleteOptions, ctx: VaultContext): Promise<DeleteResult> {
    return this.#run("delete", ctx, () => this.#inner.delete(name, options, ctx));
  }

  restore(name: string, ctx: VaultContext): Promise<void> {
    return this.#run("restore", ctx, () => this.#inner.restore(name, ctx));
  }

  /**
   * A listing takes a token per page request, empty pages included: the adapter takes each through
   * the context's `pace` just before it asks for the page, and gives it back when it turns out no
   * request was needed.
   */
  async *list(ctx: VaultContext, options?: ListOptions): AsyncIterable<ListedSecret> {
    try {
      yield* this.#inner.list(this.#paced(ctx), options);
    } catch (error) {
      this.#onFailure("list", ctx, error);
      throw error;
    }
    this.#limiter.succeeded();
  }

  async #run<T>(operation: VaultOperation, ctx: VaultContext, call: () => Promise<T>): Promise<T> {
    const permit = await this.#limiter.acquire(operation, ctx.signal);
    try {
      return await this.#outcome(operation, ctx, call);
    } finally {
      permit.settle();
    }
  }

  /** Tells the limiter how `call` ended: a success restarts the back-off, a throttle pauses the vault. */
  async #outcome<T>(operation: VaultOperation, ctx: VaultContext, call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.#limiter.succeeded();
      return result;
    } catch (error) {
      this.#onFailure(operation, ctx, error);
      throw error;
    }
  }

  /** `ctx` with the limiter as its page pacing ({@link VaultContext.pace}). */
  #paced(ctx: VaultContext): VaultContext {
    return {
      ...ctx,
      pace: async (operation) => {
        try {
          return await this.#limiter.acquire(operation, ctx.signal);
        } catch (error) {
          // The limiter's own refusal (a wait beyond the maximum) is no answer of the cloud.
          if (typeof error === "object" && error !== null) this.#refusals.add(error);
          throw error;
        }
      },
    };
  }

  #onFailure(operation: VaultOperation, ctx: VaultContext, error: unknown): void {
    if (!isCredmeshError(error) || error.reason !== "throttled" || this.#refusals.has(error)) return;
    const pauseMs = this.#limiter.throttled(operation, error.retryAfterMs);
    if (pauseMs > 0) {
      ctx.logger.warn(
        { cloud: this.cloud, vault: this.#limiter.vault, operation, pauseMs, retryAfterMs: error.retryAfterMs, code: error.code },
        "cloud throttled: pausing calls to this vault",
      );
    }
  }
}

/**
 * One rate limiter per vault for a whole process (Secrets Manager: per account and region; Key
 * Vault: per vault), shared by every adapter instance that reaches that vault.
 */
export class VaultRateLimits {
  readonly #settings: RateLimitSettings;
  readonly #metrics: LimiterMetrics | undefined;
  readonly #limiters = new Map<string, VaultRateLimiter>();

  constructor(settings: RateLimitSettings, metrics?: LimiterMetrics) {
    this.#settings = settings;
    this.#metrics = metrics;
  }

  /** The limiter of a vault, created on first use. */
  limiter(cloud: "aws" | "azure", vault: string): VaultRateLimiter {
    const key = `${cloud}:${vault}`;
    let limiter = this.#limiters.get(key);
    if (!limiter) {
      limiter = new VaultRateLimiter({ cloud, vault, settings: this.#settings, metrics: this.#metrics });
      this.#limiters.set(key, limiter);
    }
    return limiter;
  }

  /**
   * `vault` behind its limiter; unchanged when rate limiting is off. `label` names the vault:
   * `aws/<account>/<region>` or the Key Vault host.
   */
  wrap(vault: VaultPort, label: string): VaultPort {
    if (!this.#settings.enabled) return vault;
    return new RateLimitedVault(vault, this.limiter(vault.cloud, label));
  }
}
