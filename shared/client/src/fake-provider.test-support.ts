import { CredmeshError, type ReasonCode } from "@credmesh/errors";
import { Sensitive } from "@credmesh/logging";
import type { ProvidedSecret, ProvidedVersion, ProviderContext, SecretProvider } from "./provider.ts";

interface StoredVersion {
  versionId: string;
  value: string;
  tags: Record<string, string>;
}

/**
 * An in-memory store behind the SecretProvider port, for unit tests of the manager's logic only:
 * it counts calls per operation and can be told to fail (classified as the adapters classify) or
 * to hang until the caller's signal aborts.
 */
export class FakeProvider implements SecretProvider {
  readonly cloud: "aws" | "azure";
  readonly location: string;
  readonly calls = { get: 0, currentVersion: 0 };
  readonly #secrets = new Map<string, StoredVersion>();
  #failure: (() => CredmeshError) | undefined;
  #hang = false;

  constructor(cloud: "aws" | "azure") {
    this.cloud = cloud;
    this.location = cloud === "aws" ? "aws/123456789012/us-east-1" : "https://payments-kv.vault.azure.net";
  }

  put(name: string, versionId: string, value: string, tags: Record<string, string> = {}): void {
    this.#secrets.set(name, { versionId, value, tags });
  }

  /** Every call fails with `reason` (and `code`) until `heal()`. */
  fail(reason: ReasonCode, code?: string): void {
    this.#failure = () => new CredmeshError(reason, `fake ${this.cloud} call failed`, code ? { code } : {});
  }

  failWith(failure: () => CredmeshError): void {
    this.#failure = failure;
  }

  /** Every call waits until its signal aborts (a cloud that accepts and never answers). */
  hang(): void {
    this.#hang = true;
  }

  heal(): void {
    this.#failure = undefined;
    this.#hang = false;
  }

  get total(): number {
    return this.calls.get + this.calls.currentVersion;
  }

  async get(name: string, ctx: ProviderContext, options: { versionId?: string } = {}): Promise<ProvidedSecret> {
    this.calls.get++;
    const stored = await this.#answer(name, ctx);
    if (options.versionId && options.versionId !== stored.versionId) throw new CredmeshError("not_found", "fake version not found");
    return {
      name,
      versionId: stored.versionId,
      value: new Sensitive(stored.value),
      encoding: "utf8",
      ...(this.cloud === "azure" ? { tags: stored.tags } : {}),
    };
  }

  async currentVersion(name: string, ctx: ProviderContext): Promise<ProvidedVersion> {
    this.calls.currentVersion++;
    const stored = await this.#answer(name, ctx);
    if (this.cloud === "azure") {
      this.calls.get++;
      return { versionId: stored.versionId, tags: stored.tags, secret: { name, versionId: stored.versionId, value: new Sensitive(stored.value), encoding: "utf8", tags: stored.tags } };
    }
    return { versionId: stored.versionId, tags: stored.tags };
  }

  close(): void {}

  async #answer(name: string, ctx: ProviderContext): Promise<StoredVersion> {
    await Promise.resolve();
    if (this.#hang) {
      await new Promise<void>((_, reject) => ctx.signal.addEventListener("abort", () => reject(new CredmeshError("timeout", "fake call aborted")), { once: true }));
    }
    if (this.#failure) throw this.#failure();
    const stored = this.#secrets.get(name);
    if (!stored) throw new CredmeshError("not_found", "fake secret not found");
    return stored;
  }
}
