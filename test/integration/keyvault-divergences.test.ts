/**
 * The Key Vault adapter the replicator uses (`KeyVaultVault` on the product's `createKeyVaultClient`)
 * against the emulator's real-service behaviours (test/emulators/keyvault/README.md), one each:
 * what the replicator sees through its vault port when Key Vault behaves like Key Vault.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import { createLogger, sensitive } from "@credmesh/logging";
import { KeyVaultVault, createKeyVaultClient, type VaultContext } from "@credmesh/vault";
import { startKeyVaultEmulator, type KeyVaultEmulator, type KeyVaultEmulatorOptions } from "../emulators/keyvault/index.ts";
import { createSecretClient, imdsCredential } from "../emulators/keyvault/test-client.ts";

const ctx: VaultContext = { logger: createLogger({ service: "keyvault-divergences", level: "silent" }) };
const unique = (label: string): string => `${label}-${randomUUID().slice(0, 8)}`;

/** The adapter as the replicator wires it: SDK retries off, the emulator's CA trusted, fast polls. */
function adapterFor(emulator: KeyVaultEmulator, options: { recoveryWriteWaitMs?: number } = {}): KeyVaultVault {
  const client = createKeyVaultClient({
    vaultUrl: emulator.vaultUrl,
    credential: imdsCredential(emulator.tokenEndpoint, readFileSync(emulator.caCertPath)),
    caFile: emulator.caCertPath,
    disableChallengeResourceVerification: true,
  });
  return new KeyVaultVault(client, { pollIntervalMs: 50, ...options });
}

async function failure(call: Promise<unknown>): Promise<CredmeshError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof CredmeshError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

// Each case has its own names (or its own emulator): they run concurrently rather than waiting out
// the service's delays one after another.
describe.concurrent("the Key Vault adapter against the service's behaviours", () => {
  const emulators: KeyVaultEmulator[] = [];
  const start = async (options: KeyVaultEmulatorOptions): Promise<KeyVaultEmulator> => {
    const emulator = await startKeyVaultEmulator(options);
    emulators.push(emulator);
    return emulator;
  };
  let realistic: KeyVaultEmulator;

  beforeAll(async () => {
    realistic = await start({});
  });
  afterAll(async () => {
    await Promise.allSettled(emulators.map((emulator) => emulator.stop()));
  });

  it("writes into a recovered secret once Key Vault takes writes, though GET answered 200 before", async () => {
    const vault = adapterFor(realistic);
    const name = unique("recovered");
    await vault.put(name, sensitive("before"), { tags: {} }, ctx);
    await vault.delete(name, { mode: "recoverable" }, ctx);
    await vault.restore(name, ctx);
    // restore() returned: the secret reads as present. The write meets 409 ObjectIsBeingRecovered
    // for a while and waits it out instead of failing.
    await expect(vault.get(name, ctx)).resolves.toMatchObject({ value: expect.anything() });
    const { versionId } = await vault.put(name, sensitive("after"), { tags: {} }, ctx);
    expect((await vault.get(name, ctx))?.value.reveal()).toBe("after");
    expect((await vault.get(name, ctx))?.versionId).toBe(versionId);
    const writes = realistic.requests().filter((request) => request.operation === "SetSecret" && request.path === `/secrets/${name}`);
    expect(writes.filter((request) => request.status === 409).every((request) => request.code === "ObjectIsBeingRecovered")).toBe(true);
    expect(writes.filter((request) => request.status === 409).length).toBeGreaterThanOrEqual(1);
    expect(writes.at(-1)?.status).toBe(200);
  });

  it("bounds the wait for a recovery: past it the write fails as retryable operation_in_progress", async () => {
    const slow = await start({ deletionDelayMs: 100, recoveryReadDelayMs: 100, recoveryWriteDelayMs: 60_000 });
    const vault = adapterFor(slow, { recoveryWriteWaitMs: 500 });
    const name = unique("slow-recovery");
    await vault.put(name, sensitive("v"), { tags: {} }, ctx);
    await vault.delete(name, { mode: "recoverable" }, ctx);
    await vault.restore(name, ctx);
    const error = await failure(vault.put(name, sensitive("v2"), { tags: {} }, ctx));
    expect(error).toMatchObject({ reason: "operation_in_progress", retryable: true, code: "ObjectIsBeingRecovered", status: 409 });

    // The caller's deadline bounds it too.
    const patient = adapterFor(slow, { recoveryWriteWaitMs: 600_000 });
    const aborted = await failure(patient.put(name, sensitive("v2"), { tags: {} }, { ...ctx, signal: AbortSignal.timeout(300) }));
    expect(aborted).toMatchObject({ reason: "timeout", retryable: true });
  });

  it("describes a deleted secret as deleted as soon as delete() resolves, though Key Vault shows it seconds later", async () => {
    const vault = adapterFor(realistic);
    const name = unique("deleted");
    await vault.put(name, sensitive("v"), { tags: { "managed-by": "credmesh" } }, ctx);
    const started = Date.now();
    await expect(vault.delete(name, { mode: "recoverable" }, ctx)).resolves.toEqual({ purged: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(realistic.settings.deletionDelayMs);
    await expect(vault.describe(name, ctx)).resolves.toMatchObject({ state: "deleted", tags: { "managed-by": "credmesh" } });
  });

  it("lists no versions, without an error, for a secret that does not exist", async () => {
    await expect(adapterFor(realistic).versions(unique("never"), ctx)).resolves.toEqual([]);
  });

  it("orders versions newest first although Key Vault lists them by id", async () => {
    const vault = adapterFor(realistic);
    const name = unique("ordered");
    const written: string[] = [];
    for (let i = 0; i < 3; i++) {
      written.push((await vault.put(name, sensitive(`v${i}`), { tags: { n: String(i) } }, ctx)).versionId);
      // Key Vault's `created` has whole seconds: a second apart, creation order is knowable.
      if (i < 2) await new Promise((resolve) => setTimeout(resolve, 1_100));
    }
    const versions = await vault.versions(name, ctx);
    expect(versions.map((version) => version.versionId)).toEqual([...written].reverse());
  });

  it("lists every secret across pages that are empty but carry a nextLink", async () => {
    const vault = adapterFor(realistic);
    const prefix = unique("paged");
    const names = Array.from({ length: 8 }, (_, i) => `${prefix}-${i}`);
    for (const name of names) await vault.put(name, sensitive("v"), { tags: {} }, ctx);
    const listed: string[] = [];
    for await (const secret of vault.list(ctx, { namePrefix: prefix, pageSize: 3, includeDeleted: false })) listed.push(secret.name);
    expect(listed.sort()).toEqual([...names].sort());
    expect(realistic.requests().some((request) => request.operation === "GetSecrets" && request.page?.items === 0 && request.page.nextLink)).toBe(true);
  });

  it("keeps a force-deleted secret soft-deleted in a purge-protected vault, without asking to purge", async () => {
    const protectedVault = await start({ purgeProtection: true, deletionDelayMs: 300 });
    const vault = adapterFor(protectedVault);
    const name = unique("protected");
    await vault.put(name, sensitive("v"), { tags: {} }, ctx);
    await expect(vault.delete(name, { mode: "force" }, ctx)).resolves.toEqual({ purged: false });
    await expect(vault.describe(name, ctx)).resolves.toMatchObject({ state: "deleted" });
    // Already soft-deleted: a second force delete reads the recovery level from the deleted secret.
    await expect(vault.delete(name, { mode: "force" }, ctx)).resolves.toEqual({ purged: false });
    expect(protectedVault.requests().filter((request) => request.operation === "PurgeDeletedSecret")).toEqual([]);
  });

  it("classifies 429 Throttled without Retry-After as retryable throttling with no server wait", async () => {
    const throttled = await start({ throttle: { limit: 2, windowMs: 60_000 } });
    const vault = adapterFor(throttled);
    await vault.get(unique("a"), ctx);
    await vault.get(unique("b"), ctx);
    const error = await failure(vault.get(unique("c"), ctx));
    expect(error).toMatchObject({ reason: "throttled", retryable: true, code: "Throttled", status: 429 });
    expect(error.retryAfterMs).toBeUndefined();
  });

  it("refuses, permanently, a vault that does not serve the SDK's api-version", async () => {
    const old = await start({ apiVersions: ["2016-10-01", "7.0", "7.1"] });
    const error = await failure(adapterFor(old).put(unique("old"), sensitive("v"), { tags: {} }, ctx));
    expect(error).toMatchObject({ reason: "validation", retryable: false, code: "BadParameter", status: 400 });
  });

  it("refuses, permanently, a 405 for a method the resource does not have", async () => {
    // A misrouting proxy in front of the vault that turns the write into a POST.
    const client = createSecretClient(realistic, {
      retryOptions: { maxRetries: 0 },
      additionalPolicies: [
        {
          position: "perCall",
          policy: {
            name: "misroute",
            sendRequest(request, next) {
              if (request.method === "PUT") request.method = "POST";
              return next(request);
            },
          },
        },
      ],
    });
    const error = await failure(new KeyVaultVault(client).put(unique("misrouted"), sensitive("v"), { tags: {} }, ctx));
    expect(error).toMatchObject({ reason: "validation", retryable: false, status: 405 });
  });
});
