import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { CreateSecretCommand, DeleteSecretCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { toKeyVaultName } from "@credmesh/replicas";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BusTap, type TappedMessage } from "../support/bus-tap.ts";
import { runCredmeshJson } from "../support/credmesh-cli.ts";
import { cloudTrailEvent, type SecretRef } from "../support/eventbridge.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";
import { loadTools } from "../support/tools.ts";

/**
 * Anti-entropy end to end (issue 4, item 5 and its Must-show): changes whose events were never
 * delivered, a replica deleted directly in Key Vault and an AWS delete whose event was dropped are
 * healed by a reconcile run requested over NATS — with the `nats` CLI, `credmesh reconcile` and a
 * plain request — and a second run right after finds nothing to do. The replicator applies the
 * corrective mutations like any other, which the audit trail shows.
 */

interface Finding {
  action: string;
  reason: string;
  status: string;
  rule?: string;
  source?: { cloud: string; account?: string; region?: string; name: string; versionId?: string };
  destination: { vault: string; name: string };
  eventId?: string;
}

interface Report {
  runId: string;
  destination: string;
  dryRun: boolean;
  counts: Record<string, number>;
  actions: Finding[];
  errors: Array<{ scope: string; reason: string; message: string }>;
}

type Reply = Report | { error: { code: string; message: string } };

const RECONCILE_SUBJECT = "credmesh.control.reconcile.azure";
const run = promisify(execFile);

describe("anti-entropy: reconcile heals what the events missed", () => {
  let mesh: Mesh;
  let tap: BusTap;
  /** Every value written; none may appear on the bus or in a reply. */
  const values: string[] = [];
  const newValue = (): string => {
    const value = `pw-${randomBytes(18).toString("base64url")}`;
    values.push(value);
    return value;
  };
  const suffix = randomBytes(3).toString("hex");
  const secrets: Record<string, SecretRef & { value: string; versionId: string }> = {};

  beforeAll(async () => {
    // Periodic runs off: every run in this file is one the test asks for.
    mesh = await startMesh({ namePrefixes: ["prod/"], replicatorEnv: { CREDMESH_RECONCILE_INTERVAL_SECONDS: "0" } });
    tap = new BusTap(mesh.bus, "credmesh.>");
  }, 120_000);

  afterEach((context) => {
    if (context.task.result?.state === "fail") console.error(`--- replicator ---\n${mesh.replicator.tail(40)}`);
  });

  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  const replicaName = (name: string): string => toKeyVaultName("{name}", { name, account: AWS_ACCOUNT, region: AWS_REGION });

  const create = async (label: string): Promise<SecretRef & { value: string; versionId: string }> => {
    const name = `prod/reconcile/${label}-${suffix}`;
    const value = newValue();
    const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    const secret = { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION, value, versionId: created.VersionId ?? "" };
    secrets[label] = secret;
    return secret;
  };

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

  /** The replicator's own audit record for a mutation (not the reconciler's `reconciled` record of it). */
  const settled = async (eventId: string, timeoutMs = 30_000): Promise<Record<string, unknown> & { decision: string; detail?: string }> => {
    const message = await tap.waitFor(
      (m) => m.subject.startsWith("credmesh.audit.azure.") && !m.subject.endsWith(".reconciled") && (JSON.parse(m.data) as { eventId?: string }).eventId === eventId,
      timeoutMs,
    );
    return JSON.parse(message.data) as Record<string, unknown> & { decision: string; detail?: string };
  };

  const request = async (body: unknown = {}): Promise<Reply> => {
    const reply = await mesh.bus.request(RECONCILE_SUBJECT, JSON.stringify(body), { timeout: 60_000 });
    return JSON.parse(new TextDecoder().decode(reply.data)) as Reply;
  };

  const report = (reply: Reply): Report => {
    if ("error" in reply) throw new Error(`reconcile refused: ${reply.error.code}: ${reply.error.message}`);
    return reply;
  };

  const findingFor = (result: Report, name: string): Finding | undefined => result.actions.find((finding) => finding.source?.name === name);

  const versionsOf = async (name: string): Promise<number> => {
    let count = 0;
    for await (const _version of mesh.keyVaultClient.listPropertiesOfSecretVersions(name)) count++;
    return count;
  };

  it("syncs secrets created and changed while their events were lost (requested with the nats CLI)", async () => {
    // One secret replicates normally, then changes without an event; two never get an event at all.
    const changed = await create("changed");
    const first = await post(cloudTrailEvent("aws-cloudtrail-createsecret.json", changed, { versionId: changed.versionId }));
    expect((await settled(first)).decision).toBe("applied");
    const value = newValue();
    const put = await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: changed.arn, SecretString: value }));
    secrets.changed = { ...changed, value, versionId: put.VersionId ?? "" };
    await create("missing-a");
    await create("missing-b");

    const started = Date.now();
    const { stdout } = await run(loadTools().natsCli, [...mesh.nats.natsArgs({ kind: "operator" }), "--timeout", "60s", "request", "--raw", RECONCILE_SUBJECT, "{}"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
    });
    const result = report(JSON.parse(stdout) as Reply);
    console.info(`reconcile via nats CLI: ${Date.now() - started} ms, counts ${JSON.stringify(result.counts)}`);
    expect(result.errors).toEqual([]);
    expect(result.dryRun).toBe(false);
    for (const value of values) expect(stdout).not.toContain(value);

    const expected = [
      { label: "changed", reason: "stale" },
      { label: "missing-a", reason: "missing" },
      { label: "missing-b", reason: "missing" },
    ];
    for (const { label, reason } of expected) {
      const secret = secrets[label]!;
      const finding = findingFor(result, secret.name);
      expect(finding).toMatchObject({
        action: "sync",
        reason,
        status: "published",
        rule: mesh.ruleId,
        source: { cloud: "aws", account: AWS_ACCOUNT, region: AWS_REGION, name: secret.name, versionId: secret.versionId },
        destination: { vault: mesh.replicaVaultUrl, name: replicaName(secret.name) },
      });
      expect((await settled(finding!.eventId!)).decision).toBe("applied");
      const replica = await mesh.keyVaultClient.getSecret(replicaName(secret.name));
      expect(replica.value).toBe(secret.value);
      expect(replica.properties.tags).toMatchObject({ "managed-by": "credmesh", "credmesh-origin-version": secret.versionId });
    }
    expect(result.counts).toMatchObject({ sync: 3, delete: 0, errors: 0 });

    // Each corrective action is audited as reconciled, identifiers only.
    const audits = tap.messages.filter((m) => m.subject === "credmesh.audit.azure.reconciled").map((m) => JSON.parse(m.data) as Record<string, unknown>);
    expect(audits).toHaveLength(3);
    expect(audits[0]).toMatchObject({ decision: "reconciled", kind: "sync", runId: result.runId, cell: "e2e-azure-1", destination: { cloud: "azure" } });
  });

  it("finds nothing to do when run again right after", async () => {
    const again = report(await request({}));
    expect(again.errors).toEqual([]);
    expect(again.actions.filter((finding) => finding.action === "sync" || finding.action === "delete")).toEqual([]);
    expect(again.counts).toMatchObject({ sync: 0, delete: 0, errors: 0 });
    expect(again.counts.unchanged).toBeGreaterThanOrEqual(3);
  });

  it("recovers a replica deleted directly in Key Vault (credmesh reconcile)", async () => {
    const secret = secrets["missing-a"]!;
    const name = replicaName(secret.name);
    await (await mesh.keyVaultClient.beginDeleteSecret(name, { intervalInMs: 50 })).pollUntilDone();

    const cli = await runCredmeshJson<{ results: Array<{ outcome: string; report?: { actions: Array<{ action: string; reason: string; status?: string; eventId?: string; destination?: string }> } }> }>(
      ["reconcile", "--destination", "azure", ...mesh.nats.credmeshArgs()],
    );
    expect(cli.results).toHaveLength(1);
    expect(cli.results[0]?.outcome).toBe("ok");
    const finding = cli.results[0]?.report?.actions.find((action) => action.destination?.endsWith(`/${name}`));
    expect(finding).toMatchObject({ action: "sync", reason: "replica_deleted", status: "published" });
    const audit = tap.messages.find((m) => m.subject === "credmesh.audit.azure.reconciled" && m.data.includes(finding!.eventId!));
    expect(audit).toBeDefined();

    // The replicator recovers the soft-deleted replica (the rule's default onDeletedDestination: recover).
    const outcome = await settled(finding!.eventId!);
    console.info(`replica deleted in Key Vault: the corrective sync settled as ${outcome.decision} (${outcome.detail ?? ""})`);
    expect(["applied", "recovered", "skipped_duplicate"]).toContain(outcome.decision);
    const replica = await mesh.keyVaultClient.getSecret(name);
    expect(replica.value).toBe(secret.value);
    expect(replica.properties.enabled).toBe(true);
    expect(report(await request({})).counts).toMatchObject({ sync: 0, delete: 0 });
  });

  it("soft-deletes the replica of an AWS secret deleted while its DeleteSecret event was dropped", async () => {
    const secret = secrets["missing-b"]!;
    const name = replicaName(secret.name);
    await mesh.secretsManager.send(new DeleteSecretCommand({ SecretId: secret.arn, RecoveryWindowInDays: 7 }));

    const result = report(await request({}));
    const finding = findingFor(result, secret.name);
    expect(finding).toMatchObject({ action: "delete", reason: "source_deleted", status: "published", destination: { name } });
    expect((await settled(finding!.eventId!)).decision).toBe("deleted");
    await expect(mesh.keyVaultClient.getSecret(name)).rejects.toMatchObject({ statusCode: 404 });
    expect((await mesh.keyVaultClient.getDeletedSecret(name)).properties.recoveryId).toBeDefined();

    // The deletion is now converged too.
    const again = report(await request({}));
    expect(again.counts).toMatchObject({ sync: 0, delete: 0, errors: 0 });
  });

  it("reports without publishing on a dry run", async () => {
    const secret = await create("dry-run");
    const before = tap.messages.filter((m) => m.subject.startsWith("credmesh.mutation.")).length;
    const result = report(await request({ dryRun: true }));
    expect(result.dryRun).toBe(true);
    expect(findingFor(result, secret.name)).toMatchObject({ action: "sync", reason: "missing", status: "dry_run" });
    expect(tap.messages.filter((m) => m.subject.startsWith("credmesh.mutation.")).length).toBe(before);
    expect(await request({ dryRun: "yes" })).toMatchObject({ error: { code: "bad_request" } });
  });

  it("does not duplicate writes when it runs while events flow", async () => {
    const flowing = await Promise.all(Array.from({ length: 8 }, (_, index) => create(`flowing-${index}`)));
    // Events and two concurrent reconcile requests race; one request may find the lock taken.
    const [ids, ...replies] = await Promise.all([
      Promise.all(flowing.map((secret) => post(cloudTrailEvent("aws-cloudtrail-createsecret.json", secret, { versionId: secret.versionId })))),
      request({}),
      request({}),
    ]);
    const reports = replies.filter((reply): reply is Report => !("error" in reply));
    expect(reports.length).toBeGreaterThanOrEqual(1);
    for (const reply of replies) if ("error" in reply) expect(reply.error.code).toBe("busy");

    // Wait until the replicator settled every event and every correction published for these secrets.
    const corrective = reports.flatMap((result) => result.actions).filter((finding) => finding.eventId && flowing.some((secret) => secret.name === finding.source?.name));
    const outcomes = await Promise.all([...ids, ...new Set(corrective.map((finding) => finding.eventId!))].map((id) => settled(id)));
    console.info(
      `while events flow: ${reports.length} report(s), ${replies.length - reports.length} busy, ${corrective.length} corrective mutation(s) for the flowing secrets, decisions ${JSON.stringify(outcomes.map((outcome) => outcome.decision))}`,
    );
    expect(outcomes.every((outcome) => ["applied", "skipped_duplicate"].includes(outcome.decision))).toBe(true);

    for (const secret of flowing) {
      const name = replicaName(secret.name);
      expect(await versionsOf(name)).toBe(1);
      expect((await mesh.keyVaultClient.getSecret(name)).value).toBe(secret.value);
      const applied = tap.messages.filter(
        (m: TappedMessage) => m.subject === "credmesh.audit.azure.applied" && (JSON.parse(m.data) as { destination?: { name?: string } }).destination?.name === name,
      );
      expect(applied).toHaveLength(1);
    }
    expect(tap.messages.filter((m) => m.subject.startsWith("credmesh.dlq."))).toEqual([]);
  });

  it("never puts a secret value on the bus", () => {
    const haystack = tap.messages.map((m) => `${m.subject}\n${m.headers}\n${m.data}`);
    for (const value of values) {
      for (const encoded of [value, Buffer.from(value).toString("base64"), Buffer.from(value).toString("hex")]) {
        expect(haystack.filter((text) => text.includes(encoded))).toEqual([]);
      }
    }
  });
});
