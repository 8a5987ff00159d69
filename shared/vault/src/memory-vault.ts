import { createHash, randomUUID } from "node:crypto";
import { CredmeshError } from "@credmesh/errors";
import { formatSecretArn, isArn, parseSecretArn } from "@credmesh/identifiers";
import type { Sensitive } from "@credmesh/logging";
import { STAMP_TAG, type DeleteOptions, type DeleteResult, type ListOptions, type ListedSecret, type PutOptions, type SecretDescription, type SecretRead, type SecretVersion, type VaultContext, type VaultPort, type VersionInfo } from "./port.ts";
import { pagedRequest } from "./paced.ts";

interface Stored {
  versions: SecretVersion[];
  deletedAt?: Date;
  idempotency: Map<string, string>;
  /** Secrets Manager keeps tags per secret. */
  tags: Record<string, string>;
}

/**
 * An in-memory vault with the port's semantics, for unit tests of logic built on the port and as
 * the reference implementation in the adapters' shared contract suite. Like the cloud it stands
 * for: "aws" keeps tags per secret and a stamp as the version id (a repeated stamp is a no-op);
 * "azure" keeps tags, and the stamp, per version.
 */
export class MemoryVault implements VaultPort {
  readonly cloud: "aws" | "azure";
  readonly tagsPerVersion: boolean;
  readonly #secrets = new Map<string, Stored>();
  readonly #caseInsensitive: boolean;
  readonly #arn: { account: string; region: string } | undefined;
  /** Every write, in order; tests assert on it. */
  readonly writes: Array<{ name: string; versionId: string }> = [];

  /**
   * With `arn` (Secrets Manager only), secrets get ARNs like the service's
   * (`arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>`), shown by describe
   * and list and accepted wherever a name is, as the API accepts either.
   */
  constructor(cloud: "aws" | "azure", options: { arn?: { account: string; region: string } } = {}) {
    this.cloud = cloud;
    this.tagsPerVersion = cloud === "azure";
    this.#caseInsensitive = cloud === "azure";
    this.#arn = cloud === "aws" ? options.arn : undefined;
  }

  /** Calls made, by port operation; tests assert on them. */
  readonly calls: Record<string, number> = {};

  async read(name: string): Promise<SecretRead> {
    this.#count("read");
    const stored = this.#secrets.get(this.#key(name));
    const current = stored?.versions.at(-1);
    if (!stored || !current) return { state: "absent" };
    if (stored.deletedAt) return { state: "deleted", description: this.#description(stored, current) };
    return { state: "active", version: this.#view(current) };
  }

  async get(name: string, _ctx: unknown, options: { versionId?: string } = {}): Promise<SecretVersion | undefined> {
    this.#count("get");
    const stored = this.#secrets.get(this.#key(name));
    if (!stored || stored.deletedAt) return undefined;
    const version = options.versionId ? stored.versions.find((candidate) => candidate.versionId === options.versionId) : stored.versions.at(-1);
    return version && this.#view(version);
  }

  async describe(name: string): Promise<SecretDescription> {
    this.#count("describe");
    const stored = this.#secrets.get(this.#key(name));
    const current = stored?.versions.at(-1);
    if (!stored || !current) return { name, state: "absent", tags: {} };
    return this.#description(stored, current);
  }

  #description(stored: Stored, current: SecretVersion): SecretDescription {
    return {
      name: current.name,
      state: stored.deletedAt ? "deleted" : "active",
      ...this.#idOf(current.name),
      currentVersionId: current.versionId,
      tags: this.cloud === "aws" ? { ...stored.tags } : current.tags,
      ...(this.cloud === "azure" && current.createdAt ? { currentCreatedAt: current.createdAt } : {}),
      ...(current.stamp ? { currentStamp: current.stamp } : {}),
      ...(stored.deletedAt ? { deletedAt: stored.deletedAt } : {}),
    };
  }

  /** A version as a read returns it: Secrets Manager reads carry no tags. */
  #view(version: SecretVersion): SecretVersion {
    return this.cloud === "aws" ? { ...version, tags: {} } : version;
  }

  #count(operation: string): void {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
  }

  async put(name: string, value: Sensitive<string>, options: PutOptions, _ctx?: unknown): Promise<{ versionId: string }> {
    this.#count("put");
    const key = this.#key(name);
    const stored = this.#secrets.get(key) ?? { versions: [], idempotency: new Map<string, string>(), tags: {} };
    if (stored.deletedAt) {
      throw new CredmeshError("deleted_in_destination", `secret ${name} is deleted`, { code: "SecretDeleted" });
    }
    const perSecret = this.cloud === "aws";
    const token = perSecret ? options.stamp : undefined;
    const repeated = token ? stored.idempotency.get(token) : undefined;
    if (repeated) return { versionId: repeated };
    const versionId = token ?? randomUUID().replaceAll("-", "");
    if (perSecret) Object.assign(stored.tags, options.tags);
    stored.versions.push({
      name,
      versionId,
      value,
      encoding: options.encoding ?? "utf8",
      ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
      tags: perSecret ? {} : { ...options.tags, ...options.versionTags, ...(options.stamp ? { [STAMP_TAG]: options.stamp } : {}) },
      createdAt: new Date(),
      ...(perSecret ? { stamp: versionId } : (options.stamp ?? options.tags[STAMP_TAG]) ? { stamp: options.stamp ?? options.tags[STAMP_TAG] } : {}),
    });
    if (token) stored.idempotency.set(token, versionId);
    this.#secrets.set(key, stored);
    this.writes.push({ name, versionId });
    return { versionId };
  }

  async delete(name: string, options: DeleteOptions): Promise<DeleteResult> {
    const key = this.#key(name);
    const stored = this.#secrets.get(key);
    if (options.mode === "force") this.#secrets.delete(key);
    else if (stored) stored.deletedAt = new Date();
    return { purged: options.mode === "force" };
  }

  async restore(name: string): Promise<void> {
    const stored = this.#secrets.get(this.#key(name));
    if (!stored) throw new CredmeshError("not_found", `secret ${name} cannot be restored: it does not exist`);
    delete stored.deletedAt;
  }

  /** One request, as the clouds' adapters pace it ({@link VaultContext.pace}). */
  async versions(name: string, ctx?: VaultContext): Promise<VersionInfo[]> {
    this.#count("versions");
    const stored = await pagedRequest(ctx, "versions", async () => this.#secrets.get(this.#key(name)));
    return (stored?.versions ?? [])
      .map((version) => ({
        versionId: version.versionId,
        ...(version.createdAt ? { createdAt: version.createdAt } : {}),
        tags: version.tags,
        ...(version.stamp ? { stamp: version.stamp } : {}),
      }))
      .reverse();
  }

  /** A version written by someone other than credmesh (a person, another tool): no stamp, the given tags. */
  handWrite(name: string, value: Sensitive<string>, tags: Record<string, string> = {}): string {
    const stored = this.#secrets.get(this.#key(name));
    if (!stored) throw new Error(`${name} does not exist`);
    const versionId = randomUUID();
    stored.versions.push({ name: stored.versions.at(-1)?.name ?? name, versionId, value, encoding: "utf8", tags, createdAt: new Date() });
    return versionId;
  }

  /**
   * Like the cloud it stands for: Secrets Manager listings tell the current version, Key Vault
   * listings do not (the version is only in each version's own id).
   */
  async *list(ctx?: VaultContext, options: ListOptions = {}): AsyncIterable<ListedSecret> {
    const prefix = options.namePrefix === undefined ? undefined : this.#key(options.namePrefix);
    const entries = [...this.#secrets.entries()].filter(([key]) => prefix === undefined || key.startsWith(prefix));
    const listed = (stored: Stored, current: SecretVersion): ListedSecret => ({
      name: current.name,
      state: stored.deletedAt ? "deleted" : "active",
      ...this.#idOf(current.name),
      ...(this.cloud === "aws" ? { currentVersionId: current.versionId } : {}),
      ...(current.stamp ? { currentStamp: current.stamp } : {}),
      tags: this.cloud === "aws" ? { ...stored.tags } : current.tags,
      ...(current.createdAt ? { createdAt: current.createdAt } : {}),
      ...(this.cloud === "azure" && current.createdAt ? { currentCreatedAt: current.createdAt } : {}),
      ...(stored.deletedAt ? { deletedAt: stored.deletedAt } : {}),
    });
    const shown = (deleted: boolean): ListedSecret[] =>
      entries.flatMap(([, stored]) => {
        const current = stored.versions.at(-1);
        return current && Boolean(stored.deletedAt) === deleted ? [listed(stored, current)] : [];
      });
    // A request per page of `pageSize` (at least one), each paced as the clouds' adapters pace theirs.
    const all = options.includeDeleted === false ? shown(false) : [...shown(false), ...shown(true)];
    const pageSize = Math.max(1, options.pageSize ?? 25);
    for (let start = 0; start === 0 || start < all.length; start += pageSize) {
      yield* await pagedRequest(ctx, "list", async () => all.slice(start, start + pageSize));
    }
  }

  #key(name: string): string {
    const arn = this.#arn && isArn(name) ? parseSecretArn(name) : undefined;
    if (arn !== undefined && this.#idOf(arn.name).id === name) return arn.name;
    return this.#caseInsensitive ? name.toLowerCase() : name;
  }

  #idOf(name: string): { id?: string } {
    if (!this.#arn) return {};
    const suffix = createHash("sha256").update(name).digest("base64").replace(/[^A-Za-z0-9]/g, "").slice(0, 6);
    return { id: formatSecretArn({ ...this.#arn, name, suffix }) };
  }
}
