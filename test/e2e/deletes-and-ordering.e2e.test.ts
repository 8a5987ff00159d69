import { randomBytes } from "node:crypto";
import { CreateSecretCommand, DeleteSecretCommand, PutSecretValueCommand, RestoreSecretCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BusTap } from "../support/bus-tap.ts";
import { cloudTrailEvent, type SecretRef } from "../support/eventbridge.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";

/**
 * Replication you can trust (issue 4): deletes and restores follow the source, a soft-deleted
 * replica is recovered before it is written, and out-of-order, repeated deliveries converge to
 * the newest version without ever writing an older one after a newer one.
 */
describe("deletes, restores and ordering", () => {
  let mesh: Mesh;
  let tap: BusTap;

  beforeAll(async () => {
    mesh = await startMesh({ namePrefixes: ["prod/"] });
    tap = new BusTap(mesh.bus, "credmesh.>");
  }, 120_000);

  afterEach((context) => {
    if (context.task.result?.state === "fail") console.error(`--- replicator ---\n${mesh.replicator.tail(25)}`);
  });

  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  const post = async (event: Record<string, unknown>): Promise<string> => {
    const response = await fetch(`${mesh.ingestUrl}/webhooks/eventbridge`, {
      method: "POST",
      headers: { "content-type": "application/json", [mesh.apiKeyHeader]: mesh.apiKey },
      body: JSON.stringify(event),
    });
    expect(response.status).toBe(202);
    await response.body?.cancel();
    return event.id as string;
  };

  const create = async (name: string): Promise<SecretRef & { versionId: string; value: string }> => {
    const value = randomBytes(12).toString("hex");
    const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    return { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION, versionId: created.VersionId ?? "", value };
  };

  const replicate = async (secret: SecretRef & { versionId: string }): Promise<string> => {
    const id = await post(cloudTrailEvent("aws-cloudtrail-createsecret.json", secret, { versionId: secret.versionId }));
    const audit = await tap.auditFor(id);
    expect(audit.decision).toBe("applied");
    return (audit.destination as { name: string }).name;
  };

  it("soft-deletes the replica when the AWS secret is deleted with a recovery window, and recovers it on restore", async () => {
    const secret = await create("prod/lifecycle/db");
    const replica = await replicate(secret);

    await mesh.secretsManager.send(new DeleteSecretCommand({ SecretId: secret.arn, RecoveryWindowInDays: 7 }));
    const deleted = await post(cloudTrailEvent("aws-cloudtrail-deletesecret-recovery.json", secret));
    expect((await tap.auditFor(deleted)).decision).toBe("deleted");
    await expect(mesh.keyVaultClient.getSecret(replica)).rejects.toMatchObject({ statusCode: 404 });
    const softDeleted = await mesh.keyVaultClient.getDeletedSecret(replica);
    expect(softDeleted.properties.recoveryId).toBeDefined();

    await mesh.secretsManager.send(new RestoreSecretCommand({ SecretId: secret.arn }));
    const restored = await post(cloudTrailEvent("aws-cloudtrail-restoresecret.json", secret));
    expect((await tap.auditFor(restored)).decision).toBe("restored");
    expect((await mesh.keyVaultClient.getSecret(replica)).value).toBe(secret.value);
  });

  it("recovers a replica deleted in Key Vault before writing the next version into it", async () => {
    const secret = await create("prod/lifecycle/api-key");
    const replica = await replicate(secret);
    await (await mesh.keyVaultClient.beginDeleteSecret(replica, { intervalInMs: 50 })).pollUntilDone();

    const value = randomBytes(12).toString("hex");
    const put = await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: secret.arn, SecretString: value }));
    const id = await post(cloudTrailEvent("aws-cloudtrail-putsecretvalue.json", secret, { versionId: put.VersionId ?? "" }));
    const audit = await tap.auditFor(id);
    expect(audit).toMatchObject({ decision: "applied", detail: "recovered the soft-deleted destination, then wrote" });
    const current = await mesh.keyVaultClient.getSecret(replica);
    expect(current.value).toBe(value);
    expect(current.properties.tags?.["credmesh-origin-version"]).toBe(put.VersionId);
  });

  it("converges out-of-order, repeated deliveries of v1..v5 to v5 without writing an older version after a newer one", async () => {
    const secret = await create("prod/lifecycle/ordered");
    await replicate(secret);
    const versions: Array<{ versionId: string; value: string }> = [];
    for (let index = 2; index <= 5; index++) {
      const value = `v${index}-${randomBytes(6).toString("hex")}`;
      const put = await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: secret.arn, SecretString: value }));
      versions.push({ versionId: put.VersionId ?? "", value });
    }
    // Deliveries arrive reversed and repeated, as EventBridge's at-least-once, unordered delivery allows.
    const deliveries = [...versions].reverse().flatMap((version) => [version, version]);
    const ids: string[] = [];
    for (const version of deliveries) {
      ids.push(await post(cloudTrailEvent("aws-cloudtrail-putsecretvalue.json", secret, { versionId: version.versionId })));
    }
    for (const id of ids) await tap.auditFor(id);

    const latest = versions.at(-1);
    const replicaName = (tap.auditRecords().find((a) => a.eventId === ids[0])?.destination as { name: string }).name;
    expect((await mesh.keyVaultClient.getSecret(replicaName)).value).toBe(latest?.value);
    const order = versions.map((v) => v.versionId);
    const applied = tap
      .auditRecords()
      .filter((a) => ids.includes(a.eventId) && a.decision === "applied")
      .map((a) => order.indexOf(a.originVersion as string));
    // Every write carried the newest version at the time; none went backwards.
    expect(applied.length).toBeGreaterThanOrEqual(1);
    expect([...applied].sort((a, b) => a - b)).toEqual(applied);
    expect(new Set(applied).size).toBe(applied.length);
    expect(applied.at(-1)).toBe(order.length - 1);
  });
});
