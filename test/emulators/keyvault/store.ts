/**
 * The vault's state and its lifecycle rules: versions, soft delete, recovery and purge.
 *
 * Real Key Vault finishes deletes, purges and recoveries asynchronously (FORMATS.md §E "Recover and
 * purge are asynchronous"). The store models each with a deadline checked on every access instead of
 * timers, so nothing is left running when the emulator stops.
 */
import { randomBytes } from "node:crypto";
import {
  beingDeleted,
  beingRecovered,
  deletedButRecoverable,
  deletedSecretNotFound,
  purgeProtected,
  secretDisabled,
  secretNotFound,
} from "./errors.ts";
import { currentVersion } from "./model.ts";
import type { VaultSettings } from "./settings.ts";
import type {
  DeletedSecretRecord,
  SecretRecord,
  SecretVersionInput,
  SecretVersionRecord,
  SetSecretInput,
} from "./model.ts";

/** Timing of the asynchronous parts of the lifecycle, and the vault's purge protection. */
export type SecretStoreOptions = Pick<
  VaultSettings,
  "deletionDelayMs" | "recoveryReadDelayMs" | "recoveryWriteDelayMs" | "softDeleteRetentionDays" | "purgeProtection"
>;

/** A secret and the version an operation addressed. */
export interface SecretVersionRef {
  readonly secret: SecretRecord;
  readonly version: SecretVersionRecord;
}

const SECONDS_PER_DAY = 86_400;

/** In-memory secrets of one vault. Names are matched case-insensitively, as Key Vault does. */
export class SecretStore {
  readonly #options: SecretStoreOptions;
  readonly #live = new Map<string, SecretRecord>();
  readonly #deleted = new Map<string, DeletedSecretRecord>();
  /** Lowercased name → epoch ms when its purge completes. */
  readonly #purging = new Map<string, number>();
  #sequence = 0;

  constructor(options: SecretStoreOptions) {
    this.#options = options;
  }

  /** `PUT /secrets/{name}`: always a new version; refused while the name is deleted or in transition. */
  set(name: string, input: SetSecretInput): SecretVersionRef {
    const key = this.#blockWrites(name);
    const now = nowSeconds();
    const version: SecretVersionRecord = {
      version: randomBytes(16).toString("hex"),
      sequence: ++this.#sequence,
      value: input.value,
      contentType: input.contentType,
      tags: normalizeTags(input.tags),
      enabled: input.enabled ?? true,
      nbf: input.nbf,
      exp: input.exp,
      created: now,
      updated: now,
    };
    let secret = this.#live.get(key);
    if (secret === undefined) {
      secret = { name, versions: [], readableAtMs: 0, writableAtMs: 0 };
      this.#live.set(key, secret);
    }
    secret.versions.push(version);
    return { secret, version };
  }

  /** `GET /secrets/{name}[/{version}]`: the current version when no version is given. */
  get(name: string, version: string | undefined): SecretVersionRef {
    const ref = this.#find(name, version);
    // Key Vault does not skip a disabled current version; it refuses to read it.
    if (!ref.version.enabled) throw secretDisabled();
    return ref;
  }

  /** `PATCH /secrets/{name}/{version}`: attributes, tags and content type only; the value is immutable. */
  update(name: string, version: string | undefined, input: SecretVersionInput): SecretVersionRef {
    const ref = this.#find(name, version);
    const target = ref.version;
    if (input.contentType !== undefined) target.contentType = input.contentType;
    // An empty object is how a caller clears tags; an absent one leaves them alone.
    if (input.tags !== undefined) target.tags = normalizeTags(input.tags);
    if (input.enabled !== undefined) target.enabled = input.enabled;
    if (input.nbf !== undefined) target.nbf = input.nbf;
    if (input.exp !== undefined) target.exp = input.exp;
    target.updated = nowSeconds();
    return ref;
  }

  /** Readable secrets, ordered by lowercased name (the order paging relies on). */
  list(): SecretRecord[] {
    return [...this.#live.entries()]
      .filter(([, secret]) => this.#readable(secret))
      .sort(([a], [b]) => compare(a, b))
      .map(([, secret]) => secret);
  }

  /**
   * All versions of a readable secret, oldest first; disabled versions are listed too. A secret
   * that does not exist (or is deleted, or still recovering) has none: Key Vault answers its
   * version listing 200 with an empty list, not 404 (azure-sdk-for-js recording "can list secret
   * versions (non existing)").
   */
  versions(name: string): { secret: SecretRecord; versions: SecretVersionRecord[] } | undefined {
    const secret = this.#live.get(name.toLowerCase());
    return secret !== undefined && this.#readable(secret) ? { secret, versions: [...secret.versions] } : undefined;
  }

  /** `DELETE /secrets/{name}`: removes the secret from /secrets at once; it shows as deleted later. */
  delete(name: string): DeletedSecretRecord {
    const key = name.toLowerCase();
    const secret = this.#readableSecret(name);
    const now = Date.now();
    const deletedDate = Math.floor(now / 1000);
    const record: DeletedSecretRecord = {
      secret,
      deletedDate,
      scheduledPurgeDate: deletedDate + this.#options.softDeleteRetentionDays * SECONDS_PER_DAY,
      visibleAtMs: now + this.#options.deletionDelayMs,
    };
    this.#live.delete(key);
    this.#deleted.set(key, record);
    return record;
  }

  /** `GET /deletedsecrets/{name}`: 404 until the delete has finished. */
  getDeleted(name: string): DeletedSecretRecord {
    const record = this.#visibleDeleted(name);
    // A real recording shows 403 SecretDisabled here too, which is why the SDK's delete poller
    // treats 403 as "done".
    if (!currentVersion(record.secret).enabled) throw secretDisabled();
    return record;
  }

  /** Soft-deleted secrets whose delete has finished, ordered by lowercased name. */
  listDeleted(): DeletedSecretRecord[] {
    this.#expireDeleted();
    const now = Date.now();
    return [...this.#deleted.entries()]
      .filter(([, record]) => record.visibleAtMs <= now)
      .sort(([a], [b]) => compare(a, b))
      .map(([, record]) => record);
  }

  /**
   * `POST /deletedsecrets/{name}/recover`: the secret is back, but reads as missing for a while,
   * and refuses writes for longer still — reads answer 200 while a PUT answers 409
   * ObjectIsBeingRecovered (azure-sdk-for-net#31581).
   */
  recover(name: string): SecretVersionRef {
    const key = name.toLowerCase();
    const record = this.#settledDeleted(name);
    this.#deleted.delete(key);
    const now = Date.now();
    record.secret.readableAtMs = now + this.#options.recoveryReadDelayMs;
    record.secret.writableAtMs = now + this.#options.recoveryWriteDelayMs;
    this.#live.set(key, record.secret);
    return { secret: record.secret, version: currentVersion(record.secret) };
  }

  /**
   * `DELETE /deletedsecrets/{name}`: gone for good, though the name stays blocked briefly. A
   * purge-protected vault refuses (403) and purges by itself after the retention period.
   */
  purge(name: string): void {
    const key = name.toLowerCase();
    this.#settledDeleted(name);
    if (this.#options.purgeProtection) throw purgeProtected();
    this.#deleted.delete(key);
    this.#purging.set(key, Date.now() + this.#options.deletionDelayMs);
  }

  /** Throws the conflict Key Vault answers a write with, or returns the store key when writes are allowed. */
  #blockWrites(name: string): string {
    const key = name.toLowerCase();
    this.#expireDeleted();
    const now = Date.now();
    const deleted = this.#deleted.get(key);
    if (deleted !== undefined) {
      throw deleted.visibleAtMs > now ? beingDeleted(name) : deletedButRecoverable(name);
    }
    const purgeDoneAt = this.#purging.get(key);
    if (purgeDoneAt !== undefined) {
      if (purgeDoneAt > now) throw beingDeleted(name);
      this.#purging.delete(key);
    }
    const live = this.#live.get(key);
    if (live !== undefined && live.writableAtMs > now) throw beingRecovered(name);
    return key;
  }

  /** A deleted secret that recover or purge may act on: finished deleting, not yet expired. */
  #settledDeleted(name: string): DeletedSecretRecord {
    this.#expireDeleted();
    const record = this.#deleted.get(name.toLowerCase());
    if (record === undefined) throw deletedSecretNotFound(name);
    if (record.visibleAtMs > Date.now()) throw beingDeleted(name);
    return record;
  }

  #visibleDeleted(name: string): DeletedSecretRecord {
    this.#expireDeleted();
    const record = this.#deleted.get(name.toLowerCase());
    if (record === undefined || record.visibleAtMs > Date.now()) throw deletedSecretNotFound(name);
    return record;
  }

  #find(name: string, version: string | undefined): SecretVersionRef {
    const secret = this.#readableSecret(name);
    if (version === undefined) return { secret, version: currentVersion(secret) };
    // Versions are minted lowercase; Key Vault matches them case-insensitively like names.
    const wanted = version.toLowerCase();
    const found = secret.versions.find((candidate) => candidate.version === wanted);
    if (found === undefined) throw secretNotFound(name, version);
    return { secret, version: found };
  }

  #readableSecret(name: string): SecretRecord {
    const secret = this.#live.get(name.toLowerCase());
    if (secret === undefined || !this.#readable(secret)) throw secretNotFound(name);
    return secret;
  }

  #readable(secret: SecretRecord): boolean {
    return secret.readableAtMs <= Date.now();
  }

  /** Drops soft-deleted secrets past their scheduled purge date, as the service would. */
  #expireDeleted(): void {
    const now = nowSeconds();
    for (const [key, record] of this.#deleted) {
      if (record.scheduledPurgeDate <= now) this.#deleted.delete(key);
    }
  }
}

/** Key Vault omits `tags` from responses when there are none, so none is stored as undefined. */
function normalizeTags(tags: Record<string, string> | undefined): Record<string, string> | undefined {
  return tags === undefined || Object.keys(tags).length === 0 ? undefined : { ...tags };
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
