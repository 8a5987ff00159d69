import { randomBytes } from "node:crypto";
import { CreateSecretCommand, DeleteSecretCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_VAULT_SETTINGS } from "../emulators/keyvault/index.ts";
import { BusTap } from "../support/bus-tap.ts";
import { cloudTrailEvent, type SecretRef } from "../support/eventbridge.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";
import { deadLetterCount, metricSum, postEventBridge, scrape } from "../support/replication-workload.ts";

/**
 * The replicator against a Key Vault that behaves like the real one where a replicator can tell
 * (test/emulators/keyvault/README.md), end to end: a purge-protected vault with the service's
 * timing — deletes that take seconds to show, recoveries that read before they take writes — plus
 * throttling without Retry-After and list pages that are empty yet carry a nextLink. The emulator's
 * request log is the outside view of what the replicator did.
 */
describe("the replicator against Key Vault's real-service behaviours", () => {
  let mesh: Mesh;
  let tap: BusTap;
  const suffix = randomBytes(3).toString("hex");

  beforeAll(async () => {
    mesh = await startMesh({
      namePrefixes: ["prod/"],
      keyVault: { purgeProtection: true },
      ruleSettings: { onForceDelete: "purge" },
      // Periodic reconcile off (this file asks for its run). The throttle pause keeps its doubling
      // but a 4 s cap instead of 16 s: the test waits for the pause, not for a different behaviour.
      replicatorEnv: { CREDMESH_RECONCILE_INTERVAL_SECONDS: "0", CREDMESH_RATE_LIMIT_MAX_PAUSE_MS: "4000" },
    });
    tap = new BusTap(mesh.bus, "credmesh.>");
  }, 120_000);

  afterEach((context) => {
    if (context.task.result?.state === "fail") console.error(`--- replicator ---\n${mesh.replicator.tail(40)}`);
  });

  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  const create = async (label: string): Promise<SecretRef & { versionId: string; value: string }> => {
    const name = `prod/divergences/${label}-${suffix}`;
    const value = randomBytes(12).toString("hex");
    const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    return { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION, versionId: created.VersionId ?? "", value };
  };

  /** Announces `event` to ingest and returns the audit record of its mutation. */
  const deliver = async (event: Record<string, unknown>, timeoutMs = 60_000): Promise<Record<string, unknown> & { decision: string }> => {
    await postEventBridge(mesh, event);
    return tap.auditFor(event.id as string, timeoutMs);
  };

  const replicate = async (secret: SecretRef & { versionId: string }): Promise<string> => {
    const audit = await deliver(cloudTrailEvent("aws-cloudtrail-createsecret.json", secret, { versionId: secret.versionId }));
    expect(audit.decision).toBe("applied");
    return (audit.destination as { name: string }).name;
  };

  const requestsFor = (replica: string) => mesh.keyVault.requests().filter((request) => request.path === `/secrets/${replica}` || request.path.startsWith(`/secrets/${replica}/`) || request.path.startsWith(`/deletedsecrets/${replica}`));

  it("writes into a replica it recovered, waiting while Key Vault reads the secret but still refuses writes", async () => {
    const secret = await create("recovered");
    const replica = await replicate(secret);
    await (await mesh.keyVaultClient.beginDeleteSecret(replica, { intervalInMs: 250 })).pollUntilDone();

    const value = randomBytes(12).toString("hex");
    const put = await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: secret.arn, SecretString: value }));
    const audit = await deliver(cloudTrailEvent("aws-cloudtrail-putsecretvalue.json", secret, { versionId: put.VersionId ?? "" }));
    expect(audit).toMatchObject({ decision: "applied", originVersion: put.VersionId, detail: "recovered the soft-deleted destination, then wrote" });
    expect((await mesh.keyVaultClient.getSecret(replica)).value).toBe(value);

    // What Key Vault saw: the recovery, reads answering 200, writes refused as still recovering,
    // then the one accepted write.
    const log = requestsFor(replica);
    const recovered = log.findIndex((request) => request.operation === "RecoverDeletedSecret" && request.status === 200);
    expect(recovered).toBeGreaterThanOrEqual(0);
    const afterRecovery = log.slice(recovered + 1);
    const refused = afterRecovery.filter((request) => request.operation === "SetSecret" && request.status === 409);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.every((request) => request.code === "ObjectIsBeingRecovered")).toBe(true);
    expect(afterRecovery.filter((request) => request.operation === "SetSecret" && request.status === 200)).toHaveLength(1);
    expect(await deadLetterCount(mesh.bus)).toBe(0);
  });

  it("soft-deletes a force-deleted source's replica in a purge-protected vault, audits why, and never asks to purge", async () => {
    const secret = await create("force-deleted");
    const replica = await replicate(secret);

    await mesh.secretsManager.send(new DeleteSecretCommand({ SecretId: secret.arn, ForceDeleteWithoutRecovery: true }));
    const audit = await deliver(cloudTrailEvent("aws-cloudtrail-deletesecret-force.json", secret));
    expect(audit).toMatchObject({
      decision: "deleted",
      detail: "soft-deleted: the vault refuses purge (purge protection); it purges the replica after its retention period",
    });
    // Key Vault shows the deletion seconds after it answered DELETE; the replicator waited for it.
    const deleted = await mesh.keyVaultClient.getDeletedSecret(replica);
    expect(deleted.properties.recoveryLevel).toBe("Recoverable");
    expect(requestsFor(replica).filter((request) => request.operation === "PurgeDeletedSecret")).toEqual([]);
    expect(await deadLetterCount(mesh.bus)).toBe(0);
  });

  it("rides out 429 Throttled without Retry-After: every secret replicated once, nothing dead-lettered", async () => {
    // Other clients of the vault used its budget: the window is full when the events arrive.
    const limit = 20;
    const previous = mesh.keyVault.setThrottle({ limit, windowMs: 5_000 });
    let audits: Array<Record<string, unknown> & { decision: string }>;
    let secrets: Array<SecretRef & { versionId: string; value: string }>;
    try {
      for (let i = 0; i < limit; i++) await mesh.keyVaultClient.getSecret(`filler-${suffix}`).catch(() => undefined);
      secrets = await Promise.all(Array.from({ length: 4 }, (_, i) => create(`throttled-${i}`)));
      audits = await Promise.all(
        secrets.map((secret) => deliver(cloudTrailEvent("aws-cloudtrail-createsecret.json", secret, { versionId: secret.versionId }), 120_000)),
      );
    } finally {
      // The test's own reads below are not the subject.
      mesh.keyVault.setThrottle(previous);
    }
    expect(audits.map((audit) => audit.decision)).toEqual(secrets.map(() => "applied"));
    expect(new Set(audits.map((audit) => audit.originVersion)).size).toBe(secrets.length);

    const replicas = audits.map((audit) => (audit.destination as { name: string }).name);
    const throttled = replicas.flatMap((replica) => requestsFor(replica)).filter((request) => request.status === 429);
    expect(throttled.length).toBeGreaterThanOrEqual(1);
    expect(throttled.every((request) => request.code === "Throttled" && request.retryAfter === undefined)).toBe(true);
    // Exactly one accepted write per secret: a throttled write was refused, never applied twice.
    for (const replica of replicas) {
      expect(requestsFor(replica).filter((request) => request.operation === "SetSecret" && request.status === 200)).toHaveLength(1);
    }
    // Without a Retry-After the replicator paused the vault's bucket on its own schedule.
    expect(metricSum(await scrape(mesh.replicatorOpsUrl), "credmesh_rate_limit_pauses_total", { cloud: "azure" })).toBeGreaterThanOrEqual(1);
    for (const [index, secret] of secrets.entries()) expect((await mesh.keyVaultClient.getSecret(replicas[index] ?? "")).value).toBe(secret.value);
    expect(await deadLetterCount(mesh.bus)).toBe(0);
  });

  it("reconciles completely through list pages that are empty but carry a nextLink", async () => {
    // Created without an event: only a complete listing of both vaults finds it missing.
    const secret = await create("listed");
    const reply = await mesh.bus.request("credmesh.control.reconcile.azure", JSON.stringify({}), { timeout: 120_000 });
    const report = JSON.parse(new TextDecoder().decode(reply.data)) as { actions: Array<{ reason: string; source?: { name: string }; eventId?: string }>; errors: unknown[] };
    expect(report.errors).toEqual([]);
    const found = report.actions.find((action) => action.source?.name === secret.name);
    expect(found).toMatchObject({ reason: "missing" });
    // The reconciler audits its finding (`reconciled`); the replicator then audits the mutation.
    const applied = await tap.waitFor(
      (m) => m.subject === "credmesh.audit.azure.applied" && (JSON.parse(m.data) as { eventId?: string }).eventId === found?.eventId,
      60_000,
    );
    expect(JSON.parse(applied.data)).toMatchObject({ originVersion: secret.versionId });

    const emptyPages = mesh.keyVault.requests().filter((request) => request.page?.items === 0 && request.page.nextLink);
    expect(emptyPages.map((request) => request.operation)).toEqual(expect.arrayContaining(["GetSecrets", "GetDeletedSecrets"]));
    expect(DEFAULT_VAULT_SETTINGS.emptyPageEvery).toBeGreaterThan(0);
  });
});
