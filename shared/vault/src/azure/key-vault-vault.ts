import { readFileSync } from "node:fs";
import type { TokenCredential } from "@azure/core-auth";
import { SecretClient, type DeletedSecret, type KeyVaultSecret } from "@azure/keyvault-secrets";
import { CredmeshError, sleep } from "@credmesh/errors";
import { Sensitive } from "@credmesh/logging";
import { attemptSignal, observed, type CallMetrics } from "../observed.ts";
import { pagedRequest } from "../paced.ts";
import {
  STAMP_TAG,
  type DeleteOptions,
  type DeleteResult,
  type ListOptions,
  type ListedSecret,
  type PagedOperation,
  type PutOptions,
  type SecretDescription,
  type SecretRead,
  type SecretVersion,
  type VaultContext,
  type VaultPort,
  type VersionInfo,
} from "../port.ts";
import { mapKeyVaultError } from "./errors.ts";

/** The slice of SecretClient this adapter uses; a SecretClient satisfies it. */
export type KeyVaultApi = Pick<
  SecretClient,
  | "getSecret"
  | "setSecret"
  | "getDeletedSecret"
  | "beginDeleteSecret"
  | "beginRecoverDeletedSecret"
  | "purgeDeletedSecret"
  | "listPropertiesOfSecretVersions"
  | "listPropertiesOfSecrets"
  | "listDeletedSecrets"
>;

export interface KeyVaultClientConfig {
  vaultUrl: string;
  credential: TokenCredential;
  /** Extra CA bundle to trust (private CA, emulator); verification stays on. */
  caFile?: string;
  /**
   * Accept an authentication challenge whose resource is not a *.vault.azure.net domain. Needed
   * only for emulators on 127.0.0.1; never set it for a real vault.
   */
  disableChallengeResourceVerification?: boolean;
  /** Poll interval of long-running operations (delete, recover). */
  pollIntervalMs?: number;
}

/**
 * Builds the SDK client. Retries inside the SDK are off: failures are classified once and retried
 * by the replicator under its budget, honouring Retry-After, so every retry is visible in metrics.
 */
export function createKeyVaultClient(config: KeyVaultClientConfig): SecretClient {
  return new SecretClient(config.vaultUrl, config.credential, {
    disableChallengeResourceVerification: config.disableChallengeResourceVerification ?? false,
    retryOptions: { maxRetries: 0 },
    ...(config.caFile ? { tlsOptions: { ca: readFileSync(config.caFile, "utf8") } } : {}),
  });
}

/** Entries per list page at most (FORMATS.md; a larger `maxresults` is refused). */
const KEY_VAULT_MAX_PAGE_SIZE = 25;

/** Key Vault allows 25 KB values (FORMATS.md E). */
export const KEY_VAULT_MAX_VALUE_BYTES = 25 * 1024;

/** Options of {@link KeyVaultVault}. */
export interface KeyVaultVaultOptions {
  metrics?: CallMetrics;
  /** Poll interval of delete and recover, and of waiting for a recovered secret to take writes. Default 1 s. */
  pollIntervalMs?: number;
  /**
   * How long a write waits for a recovery to finish (409 ObjectIsBeingRecovered) before it fails
   * as `operation_in_progress`, left to the caller's retry. Default 30 s; the context's signal
   * bounds it too.
   */
  recoveryWriteWaitMs?: number;
  /**
   * Each request is aborted (a retryable `timeout`) when it takes longer, a listing page given up
   * on; polls of long-running operations are bounded by the caller's signal only.
   */
  attemptTimeoutMs?: number;
}

/**
 * Azure Key Vault behind the vault port. Soft delete is native: delete is recoverable unless
 * mode is "force" (delete, then purge — unless the vault is purge-protected); restore recovers
 * and waits until the secret is readable, and a write waits until a recovered secret takes writes.
 * Tags are per version: a write stamp is kept as the version's {@link STAMP_TAG} tag.
 * @see ../../../../test/emulators/keyvault/README.md for the service behaviours this copes with
 */
export class KeyVaultVault implements VaultPort {
  readonly cloud = "azure" as const;
  readonly tagsPerVersion = true;
  readonly #api: KeyVaultApi;
  readonly #metrics: CallMetrics | undefined;
  readonly #pollIntervalMs: number;
  readonly #recoveryWriteWaitMs: number;
  readonly #attemptTimeoutMs: number | undefined;

  constructor(api: KeyVaultApi, options: KeyVaultVaultOptions = {}) {
    this.#api = api;
    this.#metrics = options.metrics;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.#recoveryWriteWaitMs = options.recoveryWriteWaitMs ?? 30_000;
    this.#attemptTimeoutMs = options.attemptTimeoutMs;
  }

  /** GetSecret; a 404 is told apart (deleted but recoverable, or absent) by GetDeletedSecret. */
  async read(name: string, ctx: VaultContext): Promise<SecretRead> {
    const version = await this.get(name, ctx);
    if (version) return { state: "active", version };
    const description = await this.#describeMissing(name, ctx);
    return description.state === "deleted" ? { state: "deleted", description } : { state: "absent" };
  }

  async get(name: string, ctx: VaultContext, options: { versionId?: string } = {}): Promise<SecretVersion | undefined> {
    let secret: KeyVaultSecret;
    try {
      secret = await this.#call("GetSecret", ctx, (abortSignal) =>
        this.#api.getSecret(name, { ...(options.versionId ? { version: options.versionId } : {}), abortSignal }),
      );
    } catch (error) {
      if (error instanceof CredmeshError && error.reason === "not_found") return undefined;
      throw error;
    }
    return toVersion(secret);
  }

  async describe(name: string, ctx: VaultContext, options: { deletedLookup?: boolean } = {}): Promise<SecretDescription> {
    // Key Vault has no value-free "current version" read; the value is dropped at once.
    const current = await this.get(name, ctx);
    if (current) {
      return {
        name: current.name,
        state: "active",
        currentVersionId: current.versionId,
        tags: current.tags,
        ...(current.createdAt ? { currentCreatedAt: current.createdAt } : {}),
        ...(current.stamp ? { currentStamp: current.stamp } : {}),
      };
    }
    // A SetSecret on a deleted-but-recoverable name answers 409 ObjectIsDeletedButRecoverable.
    if (options.deletedLookup === false) return { name, state: "absent", tags: {} };
    return this.#describeMissing(name, ctx);
  }

  async #describeMissing(name: string, ctx: VaultContext): Promise<SecretDescription> {
    const deleted = await this.#deletedOrUndefined(name, ctx);
    if (deleted === undefined) return { name, state: "absent", tags: {} };
    return {
      name: deleted.name,
      state: "deleted",
      ...(deleted.properties.version ? { currentVersionId: deleted.properties.version } : {}),
      tags: deleted.properties.tags ?? {},
      ...(deleted.properties.deletedOn ? { deletedAt: deleted.properties.deletedOn } : {}),
    };
  }

  async put(name: string, value: Sensitive<string>, options: PutOptions, ctx: VaultContext): Promise<{ versionId: string }> {
    if (Buffer.byteLength(value.reveal(), "utf8") > KEY_VAULT_MAX_VALUE_BYTES) {
      throw new CredmeshError("value_too_large", `secret ${name} exceeds Key Vault's ${KEY_VAULT_MAX_VALUE_BYTES}-byte limit`);
    }
    const giveUpAt = Date.now() + this.#recoveryWriteWaitMs;
    for (;;) {
      try {
        const secret = await this.#call("SetSecret", ctx, (abortSignal) =>
          this.#api.setSecret(name, value.reveal(), {
            tags: { ...options.tags, ...options.versionTags, ...(options.stamp ? { [STAMP_TAG]: options.stamp } : {}) },
            ...(options.contentType ? { contentType: options.contentType } : {}),
            abortSignal,
          }),
        );
        if (!secret.properties.version) throw new CredmeshError("unavailable", "keyvault SetSecret returned no version");
        return { versionId: secret.properties.version };
      } catch (error) {
        // A recovered secret reads as present (the SDK's recover poller is done) seconds before
        // Key Vault takes writes to it: 409 ObjectIsBeingRecovered (azure-sdk-for-net#31581). The
        // write was refused, not applied, so writing again is safe; wait as the pollers do.
        if (!isBeingRecovered(error) || Date.now() + this.#pollIntervalMs > giveUpAt) throw error;
        ctx.logger.debug({ secret: name }, "Key Vault is still recovering the secret; waiting before writing");
        await sleep(this.#pollIntervalMs, ctx.signal);
      }
    }
  }

  async delete(name: string, options: DeleteOptions, ctx: VaultContext): Promise<DeleteResult> {
    let deleted: DeletedSecret | undefined;
    try {
      const poller = await this.#call("DeleteSecret", ctx, (abortSignal) =>
        this.#api.beginDeleteSecret(name, { intervalInMs: this.#pollIntervalMs, abortSignal }),
      );
      // The delete shows under /deletedsecrets only seconds later; waiting for it keeps the
      // port's promise that a deleted secret describes as deleted, and a purge needs it.
      deleted = await this.#call("DeleteSecretPoll", ctx, (abortSignal) => poller.pollUntilDone({ abortSignal }), { poll: true });
    } catch (error) {
      if (!(error instanceof CredmeshError && error.reason === "not_found")) throw error;
    }
    if (options.mode !== "force") return { purged: false };
    // A purge-protected vault refuses purge with a 403 that reads like a missing permission; its
    // recovery level says so beforehand ("Recoverable", "CustomizedRecoverable": no "+Purgeable").
    const recoveryLevel = (deleted ?? (await this.#deletedOrUndefined(name, ctx)))?.properties.recoveryLevel;
    if (recoveryLevel !== undefined && !recoveryLevel.includes("Purgeable")) {
      ctx.logger.warn({ secret: name, recoveryLevel }, "the vault is purge-protected: the secret stays soft-deleted until its retention period ends");
      return { purged: false };
    }
    try {
      await this.#call("PurgeDeletedSecret", ctx, (abortSignal) => this.#api.purgeDeletedSecret(name, { abortSignal }));
    } catch (error) {
      if (!(error instanceof CredmeshError && error.reason === "not_found")) throw error;
    }
    return { purged: true };
  }

  /** The soft-deleted secret, or undefined when there is none. */
  async #deletedOrUndefined(name: string, ctx: VaultContext): Promise<DeletedSecret | undefined> {
    try {
      return await this.#call("GetDeletedSecret", ctx, (abortSignal) => this.#api.getDeletedSecret(name, { abortSignal }));
    } catch (error) {
      if (error instanceof CredmeshError && error.reason === "not_found") return undefined;
      throw error;
    }
  }

  async restore(name: string, ctx: VaultContext): Promise<void> {
    const poller = await this.#call("RecoverDeletedSecret", ctx, (abortSignal) =>
      this.#api.beginRecoverDeletedSecret(name, { intervalInMs: this.#pollIntervalMs, abortSignal }),
    );
    await this.#call("RecoverDeletedSecretPoll", ctx, (abortSignal) => poller.pollUntilDone({ abortSignal }), { poll: true });
  }

  /**
   * GetSecretVersions page by page (each page one paced, observed request; a page may be empty
   * and still lead on), then newest first. Every version is read: Key Vault lists them in no
   * documented order.
   */
  async versions(name: string, ctx: VaultContext, limit = 100): Promise<VersionInfo[]> {
    const pages = this.#api.listPropertiesOfSecretVersions(name, { abortSignal: ctx.signal }).byPage({ maxPageSize: KEY_VAULT_MAX_PAGE_SIZE });
    const collected: VersionInfo[] = [];
    for await (const page of this.#pages("ListSecretVersions", "versions", ctx, pages)) {
      for (const properties of page) {
        if (!properties.version) continue;
        const stamp = properties.tags?.[STAMP_TAG];
        collected.push({
          versionId: properties.version,
          ...(properties.createdOn ? { createdAt: properties.createdOn } : {}),
          tags: properties.tags ?? {},
          ...(stamp ? { stamp } : {}),
        });
      }
    }
    return collected.sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0)).slice(0, limit);
  }

  /**
   * listPropertiesOfSecrets, then listDeletedSecrets, page by page: names and the tags of each
   * current version, never a value. Key Vault's list items carry a versionless id, so the current
   * version id is not known here. Secrets that back certificates (`managed`) are not listed:
   * credmesh replicates secrets, and Key Vault manages those itself.
   */
  async *list(ctx: VaultContext, options: ListOptions = {}): AsyncIterable<ListedSecret> {
    const maxPageSize = Math.min(KEY_VAULT_MAX_PAGE_SIZE, Math.max(1, options.pageSize ?? KEY_VAULT_MAX_PAGE_SIZE));
    const prefix = options.namePrefix?.toLowerCase();
    const wanted = (name: string | undefined): name is string => name !== undefined && (prefix === undefined || name.toLowerCase().startsWith(prefix));
    // The vault's clock as its answers state it (HTTP Date). The SDK hands the callback to the
    // listing's first request only (later pages are sent without the options): enough, since every
    // entry is served after it.
    let servedAt: Date | undefined;
    const onResponse = (response: { headers: { get(name: string): string | undefined } }): void => {
      const date = new Date(response.headers.get("date") ?? "");
      if (!Number.isNaN(date.getTime()) && (servedAt === undefined || date > servedAt)) servedAt = date;
    };
    const served = (): { servedAt?: Date } => (servedAt ? { servedAt } : {});
    const active = this.#api.listPropertiesOfSecrets({ abortSignal: ctx.signal, onResponse }).byPage({ maxPageSize });
    for await (const page of this.#pages("ListSecrets", "list", ctx, active)) {
      for (const properties of page) {
        if (!wanted(properties.name) || properties.managed) continue;
        yield {
          name: properties.name,
          state: "active",
          ...(properties.id ? { id: properties.id } : {}),
          ...(properties.version ? { currentVersionId: properties.version } : {}),
          tags: properties.tags ?? {},
          ...(properties.createdOn ? { createdAt: properties.createdOn, currentCreatedAt: properties.createdOn } : {}),
          ...(properties.tags?.[STAMP_TAG] ? { currentStamp: properties.tags[STAMP_TAG] } : {}),
          ...served(),
        };
      }
    }
    if (options.includeDeleted === false) return;
    const deleted = this.#api.listDeletedSecrets({ abortSignal: ctx.signal, onResponse }).byPage({ maxPageSize });
    for await (const page of this.#pages("ListDeletedSecrets", "list", ctx, deleted)) {
      for (const secret of page) {
        const properties = secret.properties;
        if (!wanted(properties.name) || properties.managed) continue;
        yield {
          name: properties.name,
          state: "deleted",
          ...(properties.id ? { id: properties.id } : {}),
          ...(properties.version ? { currentVersionId: properties.version } : {}),
          tags: properties.tags ?? {},
          ...(properties.createdOn ? { createdAt: properties.createdOn } : {}),
          ...(properties.deletedOn ? { deletedAt: properties.deletedOn } : {}),
          ...served(),
        };
      }
    }
  }

  /**
   * The pages of an SDK listing, each one request, paced ({@link VaultContext.pace}) and observed.
   * The SDK hides whether another page follows (its pages drop the `nextLink`), so the ask after
   * the last page takes leave too and gives it back when the iterator answers `done` without a
   * request.
   */
  async *#pages<T>(operation: string, paged: PagedOperation, ctx: VaultContext, pages: AsyncIterator<T[]>): AsyncGenerator<T[]> {
    for (;;) {
      const page = await pagedRequest(ctx, paged, () => this.#call(operation, ctx, () => this.#pageWithin(operation, pages), { poll: true }), (next) => !next.done);
      if (page.done) return;
      yield page.value;
    }
  }

  /**
   * The next page, or a retryable `timeout` when it takes longer than the per-attempt timeout. The
   * SDK's pages after the first do not carry the listing's abort signal, so the wait is bounded
   * here; a page given up on leaves its listing unusable, and the caller's retry lists again.
   */
  async #pageWithin<T>(operation: string, pages: AsyncIterator<T[]>): Promise<IteratorResult<T[]>> {
    const timeoutMs = this.#attemptTimeoutMs;
    if (timeoutMs === undefined) return pages.next();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      // Shaped as the SDK's own abort, so the one mapping (mapKeyVaultError) classifies it a timeout.
      timer = setTimeout(() => reject(Object.assign(new Error(`keyvault ${operation}: no page within ${timeoutMs} ms`), { name: "AbortError" })), timeoutMs);
    });
    try {
      return await Promise.race([pages.next(), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One request, observed and classified. `poll`: a long-running operation's polling, bounded by
   * the caller's signal only, or a listing page, which bounds itself ({@link #pageWithin}).
   */
  #call<T>(operation: string, ctx: VaultContext, call: (signal: AbortSignal | undefined) => Promise<T>, options: { poll?: boolean } = {}): Promise<T> {
    const signal = attemptSignal(ctx.signal, options.poll ? undefined : this.#attemptTimeoutMs);
    return observed(this.#metrics, "azure", operation, async () => {
      try {
        return await call(signal);
      } catch (error) {
        throw mapKeyVaultError(operation, error);
      }
    });
  }
}

function isBeingRecovered(error: unknown): boolean {
  return error instanceof CredmeshError && error.code === "ObjectIsBeingRecovered";
}

function toVersion(secret: KeyVaultSecret): SecretVersion {
  const contentType = secret.properties.contentType;
  return {
    name: secret.name,
    versionId: secret.properties.version ?? "",
    value: new Sensitive(secret.value ?? ""),
    encoding: contentType?.includes("encoding=base64") ? "base64" : "utf8",
    ...(contentType ? { contentType } : {}),
    tags: secret.properties.tags ?? {},
    ...(secret.properties.createdOn ? { createdAt: secret.properties.createdOn } : {}),
    ...(secret.properties.tags?.[STAMP_TAG] ? { stamp: secret.properties.tags[STAMP_TAG] } : {}),
  };
}
