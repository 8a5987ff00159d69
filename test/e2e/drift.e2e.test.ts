import { randomBytes } from "node:crypto";
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusTap } from "../support/bus-tap.ts";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";
import { metricSum, postEventBridge, scrape } from "../support/replication-workload.ts";

type Audit = Record<string, unknown> & { decision: string; eventId: string; destination: { name: string; versionId?: string; replacedVersionId?: string }; detail?: string };

/**
 * Issue 10 item 4: a Key Vault replica changed by hand (a version without credmesh's stamp) meets
 * one policy, the rule's `onDrift` (default `overwrite`), whether a source change or a reconcile
 * run finds it first: the replica is put back to its source, the overwrite is audited as
 * `overwrote_drift` naming the replaced version (never its value), and counted.
 */
describe("drift: a replica changed by hand", () => {
  let mesh: Mesh;
  let tap: BusTap;
  const handValues: string[] = [];

  beforeAll(async () => {
    mesh = await startMesh({ namePrefixes: ["drift/"], replicatorEnv: { CREDMESH_RECONCILE_INTERVAL_SECONDS: "0" } });
    tap = new BusTap(mesh.bus);
  }, 180_000);

  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  const replicatorAudit = async (eventId: string): Promise<Audit> => {
    const message = await tap.waitFor(
      (m) => m.subject.startsWith("credmesh.audit.azure.") && !m.subject.endsWith(".reconciled") && (JSON.parse(m.data) as { eventId?: string }).eventId === eventId,
      60_000,
    );
    return JSON.parse(message.data) as Audit;
  };

  /** A secret born in AWS and replicated; returns its ARN, its replica's name and the value there. */
  const replicated = async (name: string): Promise<{ arn: string; replica: string }> => {
    const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: `v-${randomBytes(8).toString("hex")}` }));
    const event = cloudTrailEvent("aws-cloudtrail-createsecret.json", { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION }, { versionId: created.VersionId ?? "" });
    await postEventBridge(mesh, event);
    const audit = await replicatorAudit(event.id as string);
    expect(audit.decision).toBe("applied");
    return { arn: created.ARN ?? "", replica: audit.destination.name };
  };

  /** Someone edits the replica in Key Vault directly. */
  const editByHand = async (replica: string): Promise<string> => {
    const value = `typed-by-hand-${randomBytes(8).toString("hex")}`;
    handValues.push(value);
    return (await mesh.keyVaultClient.setSecret(replica, value)).properties.version ?? "";
  };

  it("a source change overwrites the hand-made version, audited overwrote_drift with the replaced version", async () => {
    const name = `drift/by-mutation-${randomBytes(3).toString("hex")}`;
    const { arn, replica } = await replicated(name);
    const hand = await editByHand(replica);
    const value = `v-${randomBytes(8).toString("hex")}`;
    const put = await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: arn, SecretString: value }));
    const event = cloudTrailEvent("aws-cloudtrail-putsecretvalue.json", { arn, name, account: AWS_ACCOUNT, region: AWS_REGION }, { versionId: put.VersionId ?? "" });
    await postEventBridge(mesh, event);
    const audit = await replicatorAudit(event.id as string);
    expect(audit).toMatchObject({ decision: "overwrote_drift", destination: { name: replica, replacedVersionId: hand } });
    expect(audit.detail).toContain(hand);
    expect((await mesh.keyVaultClient.getSecret(replica)).value).toBe(value);
  });

  it("a reconcile run finds the same drift and reaches the same outcome through the same decision", async () => {
    const name = `drift/by-reconcile-${randomBytes(3).toString("hex")}`;
    const { arn, replica } = await replicated(name);
    const hand = await editByHand(replica);
    const reply = await mesh.bus.request("credmesh.control.reconcile.azure", "{}", { timeout: 60_000 });
    const report = JSON.parse(new TextDecoder().decode(reply.data)) as { actions: Array<{ action: string; reason: string; eventId?: string; destination: { name: string } }> };
    const finding = report.actions.find((action) => action.destination.name === replica);
    expect(finding).toMatchObject({ action: "sync", reason: "drift" });
    const audit = await replicatorAudit(finding?.eventId ?? "");
    expect(audit).toMatchObject({ decision: "overwrote_drift", destination: { name: replica, replacedVersionId: hand } });
    const source = await mesh.secretsManager.send(new GetSecretValueCommand({ SecretId: arn }));
    expect((await mesh.keyVaultClient.getSecret(replica)).value).toBe(source.SecretString);
  });

  it("counts every drift it overwrote, and never puts the hand-made value on the bus", async () => {
    const metrics = await scrape(mesh.replicatorOpsUrl);
    expect(metricSum(metrics, "credmesh_replica_drift_total", { action: "overwritten" })).toBe(2);
    expect(metricSum(metrics, "credmesh_replication_decisions_total", { decision: "overwrote_drift" })).toBe(2);
    const haystack = [...tap.messages.map((m) => m.data), ...mesh.replicator.lines];
    for (const value of handValues) expect(haystack.filter((text) => text.includes(value))).toEqual([]);
  });
});
