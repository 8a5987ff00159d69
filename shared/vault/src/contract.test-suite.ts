import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import { createLogger, sensitive } from "@credmesh/logging";
import { BINARY_CONTENT_TYPE } from "./aws/secrets-manager-vault.ts";
import type { ListOptions, ListedSecret, VaultContext, VaultPort } from "./port.ts";

/**
 * The vault port's contract: the same cases for every adapter — MemoryVault here, and the
 * Secrets Manager and Key Vault adapters against moto and the Key Vault emulator in the
 * integration tests. A case that fails for one adapter is a difference the replicator would see.
 * @see ../../../shared/STYLE.md "One contract test suite runs against every adapter"
 */
export interface VaultContractOptions {
  /** Prepended to every secret name, so runs against a shared emulator stay apart. */
  namePrefix?: string;
  /**
   * Known emulator gaps (SPEC section 6). Each skips only the cases it breaks; the adapter's
   * handling of the real behaviour is covered by its error-mapping unit tests.
   */
  gaps?: {
    /** moto accepts writes to a secret scheduled for deletion; AWS refuses them. */
    acceptsWritesWhileDeleted?: boolean;
  };
}

const ctx: VaultContext = { logger: createLogger({ service: "vault-contract", level: "silent" }) };

/** What a call resolved to, or the CredmeshError it failed with; anything else fails the test. */
async function outcomeOf<T>(call: Promise<T>): Promise<T | CredmeshError> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof CredmeshError) return error;
    throw error;
  }
}

async function listAll(vault: VaultPort, options: ListOptions): Promise<ListedSecret[]> {
  const listed: ListedSecret[] = [];
  for await (const secret of vault.list(ctx, options)) listed.push(secret);
  return listed;
}

/**
 * Registers the contract cases for the vault `makeVault` returns. Names are fresh per case and
 * valid in both clouds (`[a-z0-9-]`), so the cases may share one emulator and run in any order.
 */
export function vaultContract(name: string, makeVault: () => VaultPort | Promise<VaultPort>, options: VaultContractOptions = {}): void {
  const unique = (label: string): string => `${options.namePrefix ?? ""}contract-${label}-${randomUUID().slice(0, 8)}`;

  describe(`vault contract: ${name}`, () => {
    describe("a secret that does not exist", () => {
      it("reads as undefined", async () => {
        const vault = await makeVault();
        await expect(vault.get(unique("absent"), ctx)).resolves.toBeUndefined();
      });

      it("describes as absent, without tags", async () => {
        const vault = await makeVault();
        const secret = unique("absent");
        await expect(vault.describe(secret, ctx)).resolves.toMatchObject({ state: "absent", tags: {} });
      });

      it("deletes successfully: deleting what is already gone is success", async () => {
        const vault = await makeVault();
        await expect(vault.delete(unique("absent"), { mode: "recoverable" }, ctx)).resolves.toEqual({ purged: false });
      });

      it("has no versions, without an error (Key Vault answers its version list 200 and empty)", async ({ skip }) => {
        const vault = await makeVault();
        if (!vault.versions) skip();
        await expect(vault.versions?.(unique("absent"), ctx)).resolves.toEqual([]);
      });

      it("cannot be restored", async () => {
        const vault = await makeVault();
        await expect(vault.restore(unique("absent"), ctx)).rejects.toMatchObject({ reason: "not_found", retryable: false });
      });
    });

    describe("put and get", () => {
      it("reads back what was written, as the version put returned", async () => {
        const vault = await makeVault();
        const secret = unique("put");
        const { versionId } = await vault.put(secret, sensitive("value-one"), { tags: {} }, ctx);
        const read = await vault.get(secret, ctx);
        expect(read?.value.reveal()).toBe("value-one");
        expect(read?.versionId).toBe(versionId);
        expect(read?.encoding).toBe("utf8");
      });

      it("describes an active secret with its current version and tags", async () => {
        const vault = await makeVault();
        const secret = unique("describe");
        const tags = { "managed-by": "credmesh", "credmesh-origin-version": "v1" };
        const { versionId } = await vault.put(secret, sensitive("value"), { tags }, ctx);
        await expect(vault.describe(secret, ctx)).resolves.toMatchObject({ state: "active", currentVersionId: versionId, tags });
      });

      it("adds a new current version on each write and keeps the older one readable", async () => {
        const vault = await makeVault();
        const secret = unique("versions");
        const first = await vault.put(secret, sensitive("first"), { tags: {} }, ctx);
        const second = await vault.put(secret, sensitive("second"), { tags: {} }, ctx);
        expect(second.versionId).not.toBe(first.versionId);
        expect((await vault.get(secret, ctx))?.value.reveal()).toBe("second");
        expect((await vault.get(secret, ctx, { versionId: first.versionId }))?.value.reveal()).toBe("first");
        await expect(vault.describe(secret, ctx)).resolves.toMatchObject({ currentVersionId: second.versionId });
      });

      it("describes the tags of the latest write, which carry the provenance the replicator compares", async () => {
        const vault = await makeVault();
        const secret = unique("retag");
        await vault.put(secret, sensitive("first"), { tags: { "credmesh-origin-version": "v1" } }, ctx);
        await vault.put(secret, sensitive("second"), { tags: { "credmesh-origin-version": "v2" } }, ctx);
        await expect(vault.describe(secret, ctx)).resolves.toMatchObject({ tags: { "credmesh-origin-version": "v2" } });
      });

      it("round-trips a binary value as base64", async () => {
        const vault = await makeVault();
        const secret = unique("binary");
        const base64 = Buffer.from([0, 1, 2, 127, 128, 253, 254, 255]).toString("base64");
        await vault.put(secret, sensitive(base64), { tags: {}, encoding: "base64", contentType: BINARY_CONTENT_TYPE }, ctx);
        const read = await vault.get(secret, ctx);
        expect(read?.encoding).toBe("base64");
        expect(read?.value.reveal()).toBe(base64);
      });
    });

    describe("recoverable delete and restore", () => {
      it("shows a deleted secret as deleted and no longer serves its value", async () => {
        const vault = await makeVault();
        const secret = unique("delete");
        await vault.put(secret, sensitive("value"), { tags: {} }, ctx);
        await vault.delete(secret, { mode: "recoverable", recoveryWindowDays: 7 }, ctx);
        const description = await vault.describe(secret, ctx);
        expect(description.state).toBe("deleted");
        if (description.deletedAt !== undefined) expect(description.deletedAt).toBeInstanceOf(Date);
        const read = await outcomeOf(vault.get(secret, ctx));
        expect(read === undefined || read instanceof CredmeshError).toBe(true);
      });

      it("deletes an already deleted secret successfully", async () => {
        const vault = await makeVault();
        const secret = unique("delete-twice");
        await vault.put(secret, sensitive("value"), { tags: {} }, ctx);
        await vault.delete(secret, { mode: "recoverable", recoveryWindowDays: 7 }, ctx);
        await expect(vault.delete(secret, { mode: "recoverable", recoveryWindowDays: 7 }, ctx)).resolves.toEqual({ purged: false });
      });

      it("restores a deleted secret with its value, version and tags", async () => {
        const vault = await makeVault();
        const secret = unique("restore");
        const tags = { "managed-by": "credmesh" };
        const { versionId } = await vault.put(secret, sensitive("value"), { tags }, ctx);
        await vault.delete(secret, { mode: "recoverable", recoveryWindowDays: 7 }, ctx);
        await vault.restore(secret, ctx);
        await expect(vault.describe(secret, ctx)).resolves.toMatchObject({ state: "active", currentVersionId: versionId, tags });
        expect((await vault.get(secret, ctx))?.value.reveal()).toBe("value");
      });

      it("refuses a write to a deleted secret instead of silently resurrecting it", async ({ skip }) => {
        if (options.gaps?.acceptsWritesWhileDeleted) skip();
        const vault = await makeVault();
        const secret = unique("write-deleted");
        await vault.put(secret, sensitive("value"), { tags: {} }, ctx);
        await vault.delete(secret, { mode: "recoverable", recoveryWindowDays: 7 }, ctx);
        const written = await outcomeOf(vault.put(secret, sensitive("new"), { tags: {} }, ctx));
        expect(written).toBeInstanceOf(CredmeshError);
        expect(written).toMatchObject({ retryable: false });
        await expect(vault.describe(secret, ctx)).resolves.toMatchObject({ state: "deleted" });
      });
    });

    describe("names", () => {
      it("compares Key Vault names case-insensitively", async ({ skip }) => {
        const vault = await makeVault();
        if (vault.cloud !== "azure") skip();
        const secret = unique("MixedCase");
        await vault.put(secret, sensitive("value"), { tags: {} }, ctx);
        expect((await vault.get(secret.toLowerCase(), ctx))?.value.reveal()).toBe("value");
        await expect(vault.describe(secret.toUpperCase(), ctx)).resolves.toMatchObject({ state: "active" });
        await vault.put(secret.toUpperCase(), sensitive("second"), { tags: {} }, ctx);
        expect((await vault.get(secret, ctx))?.value.reveal()).toBe("second");
        await vault.delete(secret.toLowerCase(), { mode: "recoverable" }, ctx);
        await expect(vault.describe(secret, ctx)).resolves.toMatchObject({ state: "deleted" });
      });

      it("keeps Secrets Manager names case-sensitive", async ({ skip }) => {
        const vault = await makeVault();
        if (vault.cloud !== "aws") skip();
        const secret = unique("MixedCase");
        await vault.put(secret, sensitive("value"), { tags: {} }, ctx);
        await expect(vault.get(secret.toLowerCase(), ctx)).resolves.toBeUndefined();
      });
    });

    describe("listing", () => {
      it("lists active secrets with their tags and, in Secrets Manager, the current version, never a value", async () => {
        const vault = await makeVault();
        const prefix = unique("list");
        const tags = { "managed-by": "credmesh", "credmesh-origin-version": "v2" };
        await vault.put(`${prefix}-a`, sensitive("value-a"), { tags: {} }, ctx);
        const b = await vault.put(`${prefix}-b`, sensitive("value-b"), { tags }, ctx);
        const listed = await listAll(vault, { namePrefix: prefix });
        expect(listed.map((secret) => secret.name).sort()).toEqual([`${prefix}-a`, `${prefix}-b`]);
        const entry = listed.find((secret) => secret.name === `${prefix}-b`);
        expect(entry).toMatchObject({ state: "active", tags });
        if (vault.cloud === "aws") expect(entry?.currentVersionId).toBe(b.versionId);
        else if (entry?.currentVersionId !== undefined) expect(entry.currentVersionId).toBe(b.versionId);
        if (entry?.createdAt !== undefined) expect(entry.createdAt).toBeInstanceOf(Date);
        const text = JSON.stringify(listed);
        expect(text).not.toContain("value-a");
        expect(text).not.toContain("value-b");
      });

      it("lists the tags of the latest write", async () => {
        const vault = await makeVault();
        const secret = unique("list-retag");
        await vault.put(secret, sensitive("first"), { tags: { "credmesh-origin-version": "v1" } }, ctx);
        const second = await vault.put(secret, sensitive("second"), { tags: { "credmesh-origin-version": "v2" } }, ctx);
        const [entry] = await listAll(vault, { namePrefix: secret });
        expect(entry?.tags).toMatchObject({ "credmesh-origin-version": "v2" });
        if (vault.cloud === "aws") expect(entry?.currentVersionId).toBe(second.versionId);
      });

      it("lists a deleted secret as deleted with its tags, unless deleted ones are excluded", async () => {
        const vault = await makeVault();
        const prefix = unique("list-deleted");
        const tags = { "managed-by": "credmesh" };
        await vault.put(`${prefix}-kept`, sensitive("value"), { tags }, ctx);
        await vault.put(`${prefix}-gone`, sensitive("value"), { tags }, ctx);
        await vault.delete(`${prefix}-gone`, { mode: "recoverable", recoveryWindowDays: 7 }, ctx);
        const listed = await listAll(vault, { namePrefix: prefix });
        expect(listed.map(({ name, state }) => ({ name, state })).sort((x, y) => x.name.localeCompare(y.name))).toEqual([
          { name: `${prefix}-gone`, state: "deleted" },
          { name: `${prefix}-kept`, state: "active" },
        ]);
        expect(listed.find((secret) => secret.state === "deleted")?.tags).toMatchObject(tags);
        const activeOnly = await listAll(vault, { namePrefix: prefix, includeDeleted: false });
        expect(activeOnly.map((secret) => secret.name)).toEqual([`${prefix}-kept`]);
      });

      it("lists a restored secret as active again", async () => {
        const vault = await makeVault();
        const secret = unique("list-restored");
        await vault.put(secret, sensitive("value"), { tags: {} }, ctx);
        await vault.delete(secret, { mode: "recoverable", recoveryWindowDays: 7 }, ctx);
        await vault.restore(secret, ctx);
        expect((await listAll(vault, { namePrefix: secret })).map(({ name, state }) => ({ name, state }))).toEqual([{ name: secret, state: "active" }]);
      });

      it("does not list a force-deleted secret", async () => {
        const vault = await makeVault();
        const secret = unique("list-purged");
        await vault.put(secret, sensitive("value"), { tags: {} }, ctx);
        await expect(vault.delete(secret, { mode: "force" }, ctx)).resolves.toEqual({ purged: true });
        expect(await listAll(vault, { namePrefix: secret })).toEqual([]);
      });

      it("pages through more secrets than fit one page", async () => {
        const vault = await makeVault();
        const prefix = unique("list-pages");
        const names = Array.from({ length: 7 }, (_, index) => `${prefix}-${index}`);
        for (const secret of names) await vault.put(secret, sensitive("value"), { tags: {} }, ctx);
        const listed = await listAll(vault, { namePrefix: prefix, pageSize: 3 });
        expect(listed.map((secret) => secret.name).sort()).toEqual([...names].sort());
      });

      it("paces every page request of a listing and a version list, settling or giving back each leave once", async () => {
        const vault = await makeVault();
        const prefix = unique("paced");
        for (let index = 0; index < 4; index++) await vault.put(`${prefix}-${index}`, sensitive("value"), { tags: {} }, ctx);
        const leaves: Array<{ operation: string; ends: string[] }> = [];
        const paced: VaultContext = {
          ...ctx,
          pace: async (operation) => {
            const leave = { operation, ends: [] as string[] };
            leaves.push(leave);
            return { settle: () => leave.ends.push("settled"), release: () => leave.ends.push("released") };
          },
        };
        for await (const _secret of vault.list(paced, { namePrefix: prefix, pageSize: 3 })) void _secret;
        await vault.versions(`${prefix}-0`, paced);
        const pagesOf = (operation: string): number => leaves.filter((leave) => leave.operation === operation && leave.ends[0] === "settled").length;
        expect(pagesOf("list")).toBeGreaterThanOrEqual(1);
        expect(pagesOf("versions")).toBeGreaterThanOrEqual(1);
        expect(leaves.every((leave) => leave.ends.length === 1)).toBe(true);
      });

      it("matches the name prefix case-insensitively in Key Vault, case-sensitively in Secrets Manager", async () => {
        const vault = await makeVault();
        const prefix = unique("List-Case");
        await vault.put(`${prefix}-x`, sensitive("value"), { tags: {} }, ctx);
        const listed = await listAll(vault, { namePrefix: prefix.toLowerCase() });
        expect(listed.map((secret) => secret.name.toLowerCase())).toEqual(vault.cloud === "azure" ? [`${prefix}-x`.toLowerCase()] : []);
      });
    });

    describe("write stamps", () => {
      it("hands a version's stamp back on read, describe, versions and list", async () => {
        const vault = await makeVault();
        const secret = unique("stamped");
        const stamp = `cm-${randomUUID().replaceAll("-", "")}`;
        await vault.put(secret, sensitive("value"), { tags: { owner: "contract" }, versionTags: { note: "per-version" }, stamp }, ctx);
        const read = await vault.read(secret, ctx);
        expect(read.state === "active" ? read.version.stamp : undefined).toBe(stamp);
        await expect(vault.describe(secret, ctx)).resolves.toMatchObject({ state: "active", currentStamp: stamp, tags: { owner: "contract" } });
        expect((await vault.versions(secret, ctx)).map((version) => version.stamp)).toContain(stamp);
        const listed = await listAll(vault, { namePrefix: secret });
        expect(listed.map((entry) => entry.currentStamp)).toEqual([stamp]);
      });

      it("adds a version to a secret the caller read, keeping its tags", async () => {
        const vault = await makeVault();
        const secret = unique("existing");
        const tags = { owner: "contract" };
        await vault.put(secret, sensitive("one"), { tags, stamp: `cm-${randomUUID().replaceAll("-", "")}` }, ctx);
        const second = `cm-${randomUUID().replaceAll("-", "")}`;
        await vault.put(secret, sensitive("two"), { tags, stamp: second, existing: { tags } }, ctx);
        const read = await vault.read(secret, ctx);
        expect(read.state === "active" ? [read.version.value.reveal(), read.version.stamp] : []).toEqual(["two", second]);
        await expect(vault.describe(secret, ctx)).resolves.toMatchObject({ tags });
      });

      it("reads a secret that does not exist as absent", async () => {
        const vault = await makeVault();
        await expect(vault.read(unique("absent"), ctx)).resolves.toStrictEqual({ state: "absent" });
      });
    });
  });
}
