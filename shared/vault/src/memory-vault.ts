import { createHash, randomUUID } from "node:crypto";
import { CredmeshError } from "@credmesh/errors";
import { formatSecretArn, isArn, parseSecretArn } from "@credmesh/identifiers";
import type { Sensitive } from "@credmesh/logging";
import type { DeleteOptions, DeleteResult, ListOptions, ListedSecret, PutOptions, SecretDescription, SecretVersion, VaultPort, VersionInfo } from "./port.ts";

interface Stored {
  versions: SecretVersion[];
  deletedAt?: Date;
  idempotency: Map<string, string>;
}

/**
 * An in-memory vault with the port's semantics, for unit tests of logic built on the port and as
 * the reference implementation in the adapters' shared contract suite.
 */
export class MemoryVault implements VaultPort {
  readonly cloud: "aws" | "azure";
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
    this.#caseInsensitive = cloud === "azure";
    this.#arn = cloud === "aws" ? options.arn : undefined;
  }

  async get(name: string, _ctx: unknown, options: { versionId?: string } = {}): Promise<SecretVersion | undefined> {
    const stored = this.#secrets.get(this.#key(name));
    if (!stored || stored.deletedAt) return undefined;
    if (options.versionId) return stored.versions.find((version) => version.versionId === options.versionId);
    return stored.versions.at(-1);
  }

  async describe(name: string): Promise<SecretDescription> {
    const stored = this.#secrets.get(this.#key(name));
    const current = stored?.versions.at(-1);
    if (!stored || !current) return { name, state: "absent", tags: {} };
    return {
      name: current.name,
      state: stored.deletedAt ? "deleted" : "active",
      ...this.#idOf(current.name),
      currentVersionId: current.versionId,
      tags: current.tags,
      ...(stored.deletedAt ? { deletedAt: stored.deletedAt } : {}),
    };
  }

  async put(name: string, value: Sensitive<string>, options: PutOptions): Promise<{ versionId: string }> {
    const key = this.#key(name);
    const stored = this.#secrets.get(key) ?? { versions: [], idempotency: new Map<string, string>() };
    if (stored.deletedAt) {
      throw new CredmeshError("deleted_in_destination", `secret ${name} is deleted`, { code: "SecretDeleted" });
    }
    const repeated = options.idempotencyToken ? stored.idempotency.get(options.idempotencyToken) : undefined;
    if (repeated) return { versionId: repeated };
    const versionId = options.idempotencyToken ?? randomUUID().replaceAll("-", "");
    stored.versions.push({
      name,
      versionId,
      value,
      encoding: options.encoding ?? "utf8",
      ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
      tags: { ...options.tags },
      createdAt: new Date(),
    });
    if (options.idempotencyToken) stored.idempotency.set(options.idempotencyToken, versionId);
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

  async versions(name: string): Promise<VersionInfo[]> {
    const stored = this.#secrets.get(this.#key(name));
    return (stored?.versions ?? [])
      .map((version) => ({ versionId: version.versionId, ...(version.createdAt ? { createdAt: version.createdAt } : {}), tags: version.tags }))
      .reverse();
  }

  /**
   * Like the cloud it stands for: Secrets Manager listings tell the current version, Key Vault
   * listings do not (the version is only in each version's own id).
   */
  async *list(_ctx: unknown, options: ListOptions = {}): AsyncIterable<ListedSecret> {
    const prefix = options.namePrefix === undefined ? undefined : this.#key(options.namePrefix);
    const entries = [...this.#secrets.entries()].filter(([key]) => prefix === undefined || key.startsWith(prefix));
    const listed = (stored: Stored, current: SecretVersion): ListedSecret => ({
      name: current.name,
      state: stored.deletedAt ? "deleted" : "active",
      ...this.#idOf(current.name),
      ...(this.cloud === "aws" ? { currentVersionId: current.versionId } : {}),
      tags: current.tags,
      ...(current.createdAt ? { createdAt: current.createdAt } : {}),
      ...(stored.deletedAt ? { deletedAt: stored.deletedAt } : {}),
    });
    for (const [, stored] of entries) {
      const current = stored.versions.at(-1);
      if (current && !stored.deletedAt) yield listed(stored, current);
    }
    if (options.includeDeleted === false) return;
    for (const [, stored] of entries) {
      const current = stored.versions.at(-1);
      if (current && stored.deletedAt) yield listed(stored, current);
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
