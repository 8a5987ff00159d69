import { describe, expect, it } from "vitest";
import { createLogger, sensitive } from "@credmesh/logging";
import { vaultContract } from "./contract.test-suite.ts";
import { MemoryVault } from "./memory-vault.ts";
import type { VaultPort } from "./port.ts";

vaultContract("MemoryVault (aws)", () => new MemoryVault("aws"));
vaultContract("MemoryVault (azure)", () => new MemoryVault("azure"));
vaultContract("MemoryVault (aws, with ARNs)", () => new MemoryVault("aws", { arn: { account: "123456789012", region: "us-east-1" } }));

describe("MemoryVault", () => {
  const ctx = { logger: createLogger({ service: "test", level: "silent" }) };
  /** The vault seen through the port, as the replicator uses it, beside the concrete one. */
  const memory = (cloud: "aws" | "azure"): [MemoryVault, VaultPort] => {
    const vault = new MemoryVault(cloud);
    return [vault, vault];
  };

  it("records every write in order, for assertions on what the replicator wrote", async () => {
    const [memoryVault, vault] = memory("azure");
    const first = await vault.put("a", sensitive("1"), { tags: {} }, ctx);
    const second = await vault.put("b", sensitive("2"), { tags: {} }, ctx);
    expect(memoryVault.writes).toStrictEqual([
      { name: "a", versionId: first.versionId },
      { name: "b", versionId: second.versionId },
    ]);
  });

  it("does not record a repeated stamped write to Secrets Manager", async () => {
    const [memoryVault, vault] = memory("aws");
    await vault.put("a", sensitive("1"), { tags: {}, stamp: "t".repeat(32) }, ctx);
    await vault.put("a", sensitive("1"), { tags: {}, stamp: "t".repeat(32) }, ctx);
    expect(memoryVault.writes).toHaveLength(1);
  });

  it("leaves nothing to restore after a forced delete", async () => {
    const [, vault] = memory("aws");
    await vault.put("a", sensitive("1"), { tags: {} }, ctx);
    await vault.delete("a", { mode: "force" }, ctx);
    await expect(vault.describe("a", ctx)).resolves.toMatchObject({ state: "absent" });
    await expect(vault.restore("a", ctx)).rejects.toMatchObject({ reason: "not_found" });
  });

  it("refuses a write to a deleted secret as deleted_in_destination", async () => {
    const [, vault] = memory("azure");
    await vault.put("a", sensitive("1"), { tags: {} }, ctx);
    await vault.delete("a", { mode: "recoverable" }, ctx);
    await expect(vault.put("A", sensitive("2"), { tags: {} }, ctx)).rejects.toMatchObject({ reason: "deleted_in_destination" });
  });

  it("gives Secrets Manager secrets ARNs when asked, and accepts them wherever a name is", async () => {
    const vault: VaultPort = new MemoryVault("aws", { arn: { account: "123456789012", region: "us-east-1" } });
    await vault.put("prod/db", sensitive("1"), { tags: {} }, ctx);
    const { id } = await vault.describe("prod/db", ctx);
    expect(id).toMatch(/^arn:aws:secretsmanager:us-east-1:123456789012:secret:prod\/db-[A-Za-z0-9]{6}$/);
    expect((await vault.get(id ?? "", ctx))?.value.reveal()).toBe("1");
    const listed = [];
    for await (const secret of vault.list(ctx)) listed.push(secret);
    expect(listed).toMatchObject([{ name: "prod/db", id, state: "active" }]);
    await expect(vault.get(`${id?.slice(0, -6)}XXXXXX`, ctx)).resolves.toBeUndefined();
  });
});
