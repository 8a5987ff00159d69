/**
 * Drives the emulator with the real `@azure/keyvault-secrets` SecretClient: if these pass, the
 * product's Key Vault adapter sees the same protocol it will see in Azure.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SecretClient } from "@azure/keyvault-secrets";
import { startKeyVaultEmulator } from "./emulator.ts";
import type { KeyVaultEmulator } from "./emulator.ts";
import { createSecretClient, until } from "./test-client.ts";

/** The fields of a RestError the assertions look at. */
interface CaughtRestError {
  readonly name: string;
  readonly statusCode: number | undefined;
  readonly code: string | undefined;
  readonly message: string;
  readonly innerCode: string | undefined;
}

/** Awaits `promise`, expecting it to fail, and returns the error's interesting fields. */
async function restError(promise: Promise<unknown>): Promise<CaughtRestError> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; statusCode?: number; code?: string; message: string; details?: unknown };
    const details = e.details as { error?: { innerError?: { code?: string } } } | undefined;
    return { name: e.name, statusCode: e.statusCode, code: e.code, message: e.message, innerCode: details?.error?.innerError?.code };
  }
  throw new Error("expected the call to fail");
}

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

const poll = { intervalInMs: 50 };

describe("Key Vault emulator through the Azure SDK", () => {
  let emulator: KeyVaultEmulator;
  let client: SecretClient;

  beforeAll(async () => {
    emulator = await startKeyVaultEmulator({ deletionDelayMs: 1_500 });
    client = createSecretClient(emulator);
  });
  afterAll(async () => {
    await emulator.stop();
  });

  it("sets new versions and gets the latest or a specific one", async () => {
    const name = unique("versions");
    const first = await client.setSecret(name, "one", { contentType: "text/plain" });
    const second = await client.setSecret(name, "two");

    expect(first.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect(second.properties.version).not.toBe(first.properties.version);
    expect(second.properties.id).toBe(`${emulator.vaultUrl}/secrets/${name}/${second.properties.version}`);
    expect((await client.getSecret(name)).value).toBe("two");
    const old = await client.getSecret(name, { version: first.properties.version ?? "" });
    expect(old.value).toBe("one");
    expect(old.properties.contentType).toBe("text/plain");
    expect(old.properties.recoveryLevel).toBe("Recoverable+Purgeable");
    expect(old.properties.recoverableDays).toBe(90);

    const versions: string[] = [];
    for await (const properties of client.listPropertiesOfSecretVersions(name)) versions.push(properties.version ?? "");
    expect(versions.sort()).toEqual([first.properties.version, second.properties.version].sort());
  });

  it("pages secret lists with nextLink, by default 25 at a time", async () => {
    const prefix = unique("page");
    const names = Array.from({ length: 30 }, (_, i) => `${prefix}-${String(i).padStart(2, "0")}`);
    for (const name of names) await client.setSecret(name, "v");

    const pageSizes: number[] = [];
    const listed: string[] = [];
    for await (const page of client.listPropertiesOfSecrets().byPage({ maxPageSize: 7 })) {
      pageSizes.push(page.length);
      for (const item of page) {
        expect(item.version).toBeUndefined(); // list items carry versionless ids, no values
        listed.push(item.name);
      }
    }
    expect(listed.filter((n) => n.startsWith(prefix))).toEqual(names);
    expect(Math.max(...pageSizes)).toBe(7);
    // As from the service, some pages are empty and still carry a nextLink; the SDK follows them.
    expect(pageSizes[0]).toBe(0);

    const defaultPages: number[] = [];
    for await (const page of client.listPropertiesOfSecrets().byPage()) defaultPages.push(page.length);
    expect(defaultPages.filter((size) => size > 0)[0]).toBe(25);
    expect(defaultPages.length).toBeGreaterThan(2);
  });

  it("round-trips tags and updates properties without creating a version", async () => {
    const name = unique("tags");
    const tags = { "aws-arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x", "managed-by": "credmesh" };
    const created = await client.setSecret(name, "value", { tags });
    expect(created.properties.tags).toEqual(tags);
    expect((await client.getSecret(name)).properties.tags).toEqual(tags);

    const version = created.properties.version ?? "";
    const updated = await client.updateSecretProperties(name, version, { tags: { only: "one" }, contentType: "application/json" });
    expect(updated.tags).toEqual({ only: "one" });
    const current = await client.getSecret(name);
    expect(current.properties.version).toBe(version);
    expect(current.value).toBe("value");
    expect(current.properties.contentType).toBe("application/json");
  });

  it("accepts 15 tags and rejects a 16th with 400 BadParameter", async () => {
    const tags = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`t${i}`, "v"]));
    await client.setSecret(unique("tags15"), "v", { tags: tags(15) });
    const error = await restError(client.setSecret(unique("tags16"), "v", { tags: tags(16) }));
    expect(error).toMatchObject({ name: "RestError", statusCode: 400, code: "BadParameter", message: "Property has invalid value\r\n" });
  });

  it("treats names case-insensitively but keeps the first spelling", async () => {
    const name = unique("CaseName");
    await client.setSecret(name, "first");
    await client.setSecret(name.toUpperCase(), "second");
    const read = await client.getSecret(name.toLowerCase());
    expect(read.value).toBe("second");
    expect(read.name).toBe(name);
    let versions = 0;
    for await (const _ of client.listPropertiesOfSecretVersions(name.toLowerCase())) versions++;
    expect(versions).toBe(2);
  });

  it("refuses to read a disabled current version with 403 SecretDisabled", async () => {
    const name = unique("disabled");
    await client.setSecret(name, "v", { enabled: false });
    const error = await restError(client.getSecret(name));
    expect(error).toMatchObject({ statusCode: 403, code: "Forbidden", innerCode: "SecretDisabled" });
  });

  it("soft-deletes, blocks the name with 409 ObjectIsDeletedButRecoverable, and recovers", async () => {
    const name = unique("recover");
    await client.setSecret(name, "keep-me", { tags: { a: "b" } });

    const deleted = await (await client.beginDeleteSecret(name, poll)).pollUntilDone();
    expect(deleted.properties.recoveryId).toBe(`${emulator.vaultUrl}/deletedsecrets/${name}`);
    expect(deleted.properties.deletedOn).toBeInstanceOf(Date);
    const listed: string[] = [];
    for await (const item of client.listPropertiesOfSecrets()) listed.push(item.name);
    expect(listed).not.toContain(name);

    const conflict = await restError(client.setSecret(name, "new"));
    expect(conflict).toMatchObject({ statusCode: 409, code: "Conflict", innerCode: "ObjectIsDeletedButRecoverable" });

    const recovered = await (await client.beginRecoverDeletedSecret(name, poll)).pollUntilDone();
    expect(recovered.name).toBe(name);
    const read = await client.getSecret(name);
    expect(read.value).toBe("keep-me");
    expect(read.properties.tags).toEqual({ a: "b" });
  });

  it("completes the beginDeleteSecret poller only once the deleted secret is visible", async () => {
    const name = unique("delete-poll");
    await client.setSecret(name, "v");
    const before = emulator.stats()["GetDeletedSecret"] ?? 0;
    const poller = await client.beginDeleteSecret(name, poll);
    // Right after DELETE the delete is still in progress: the SDK's first poll saw a 404.
    expect(poller.isDone()).toBe(false);
    const writeWhileDeleting = await restError(client.setSecret(name, "v2"));
    expect(writeWhileDeleting).toMatchObject({ statusCode: 409, innerCode: "ObjectIsBeingDeleted" });

    await poller.pollUntilDone();
    expect((emulator.stats()["GetDeletedSecret"] ?? 0) - before).toBeGreaterThanOrEqual(2);
    expect((await client.getDeletedSecret(name)).name).toBe(name);
    const deletedNames: string[] = [];
    for await (const item of client.listDeletedSecrets()) deletedNames.push(item.name);
    expect(deletedNames).toContain(name);
  });

  it("reads a recovering secret as missing, then as present while it still refuses writes, as the service does", async () => {
    const name = unique("recovering");
    await client.setSecret(name, "v");
    await (await client.beginDeleteSecret(name, poll)).pollUntilDone();

    const poller = await client.beginRecoverDeletedSecret(name, poll);
    expect((await restError(client.getSecret(name))).statusCode).toBe(404);
    const conflict = await restError(client.setSecret(name, "v2"));
    expect(conflict).toMatchObject({ statusCode: 409, code: "Conflict", innerCode: "ObjectIsBeingRecovered" });

    // The SDK's poller is done once a GET answers 200; a write may still be refused after that
    // (azure-sdk-for-net#31581), which is what a client must retry.
    await poller.pollUntilDone();
    expect((await client.getSecret(name)).value).toBe("v");
    expect(await restError(client.setSecret(name, "v2"))).toMatchObject({ statusCode: 409, innerCode: "ObjectIsBeingRecovered" });
    await until(async () => (await client.setSecret(name, "v2").then(() => true, () => false)));
    expect((await client.getSecret(name)).value).toBe("v2");
  });

  it("purges a deleted secret and frees the name once the purge completes", async () => {
    const name = unique("purge");
    await client.setSecret(name, "old");
    await (await client.beginDeleteSecret(name, poll)).pollUntilDone();
    await client.purgeDeletedSecret(name);

    expect((await restError(client.getDeletedSecret(name))).statusCode).toBe(404);
    expect(await restError(client.setSecret(name, "new"))).toMatchObject({ statusCode: 409, innerCode: "ObjectIsBeingDeleted" });
    await until(async () => client.setSecret(name, "new").then(() => true, () => false));
    let versions = 0;
    for await (const _ of client.listPropertiesOfSecretVersions(name)) versions++;
    expect(versions).toBe(1);
  });

  it("answers 404 SecretNotFound for a missing secret", async () => {
    const error = await restError(client.getSecret(unique("missing")));
    expect(error).toMatchObject({ statusCode: 404, code: "SecretNotFound" });
  });
});
