/**
 * Least privilege on the bus, end to end (issue 15, "Must show"): the whole mesh in both
 * directions with the identity-watcher, on a TLS bus where every process has its own identity.
 *
 * 1. A mutation forged straight onto the bus, with a role that may publish mutations (ingest's
 *    identity — so only the consumer's own check can stop it), for a secret outside its rule's
 *    scope: nothing is read or written (counted at the recording proxy in front of moto and by the
 *    Key Vault emulator, outside the code), the mutation is dead-lettered `out_of_scope` and
 *    audited. Also when the forgery borrows an in-scope name for an out-of-scope ARN.
 * 2. Every role does its normal job — ingest, both replicators, the watcher, the operator's CLI,
 *    the auditor's `nats sub` — and the server reports not one permission violation.
 */
import { randomBytes } from "node:crypto";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { BusPublisher } from "@credmesh/bus";
import { buildMutationEvent, decodeDeadLetterRecord, type MutationEvent } from "@credmesh/events";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePrometheusText, valueOf } from "../integration/support/prometheus-text.ts";
import { BusTap } from "../support/bus-tap.ts";
import { cloudCallWindow } from "../support/cloud-calls.ts";
import { runCredmesh } from "../support/credmesh-cli.ts";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { ManagedProcess } from "../support/managed-process.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";
import { postEventBridge } from "../support/replication-workload.ts";
import { loadTools } from "../support/tools.ts";

describe("least privilege on the bus", () => {
  let mesh: Mesh;
  let tap: BusTap;
  let ingestIdentity: NatsConnection;

  beforeAll(async () => {
    mesh = await startMesh({
      azureToAws: { vaultName: "apps-kv", namePrefixes: ["app-"] },
      identityWatcher: { cells: ["cells:", "  - id: e2e-azure-1", "  - id: e2e-aws-1", ""].join("\n") },
    });
    tap = new BusTap(mesh.bus, "credmesh.>");
    ingestIdentity = await mesh.nats.connect({ kind: "ingest" }, "forger-with-ingest-identity");
  });

  afterAll(async () => {
    tap?.stop();
    await ingestIdentity?.close().catch(() => undefined);
    await mesh?.stop();
  });

  /** An AWS secret no rule covers (the AWS → Azure rule covers `prod/`). */
  async function outOfScopeSecret(): Promise<{ name: string; arn: string }> {
    const name = `finance/root-${randomBytes(3).toString("hex")}`;
    const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: randomBytes(24).toString("base64url") }));
    return { name, arn: created.ARN ?? "" };
  }

  /** A mutation naming the AWS → Azure rule, published with ingest's identity. */
  async function forge(origin: { secretId: string; secretName: string }): Promise<MutationEvent> {
    const event = buildMutationEvent({
      data: {
        kind: "upsert",
        rule: mesh.ruleId,
        destination: { cloud: "azure" },
        origin: { cloud: "aws", account: AWS_ACCOUNT, region: AWS_REGION, ...origin },
        trigger: { source: "aws.eventbridge", eventName: "PutSecretValue", eventTime: new Date().toISOString() },
      },
    });
    const published = await new BusPublisher(ingestIdentity, { timeoutMs: 5_000 }).publishMutation(event);
    expect(published.duplicate).toBe(false);
    return event;
  }

  async function deadLetterOf(event: MutationEvent) {
    const message = await tap.waitFor(
      (candidate) => candidate.subject === "credmesh.dlq.azure" && decodeDeadLetterRecord(new TextEncoder().encode(candidate.data)).event?.id === event.id,
      60_000,
    );
    return decodeDeadLetterRecord(new TextEncoder().encode(message.data));
  }

  it.each([
    ["names a secret outside the rule's prefixes", (secret: { name: string; arn: string }) => ({ secretId: secret.arn, secretName: secret.name }), "no rule covers it"],
    ["borrows an in-scope name for an out-of-scope ARN", (secret: { name: string; arn: string }) => ({ secretId: secret.arn, secretName: "prod/payments/db" }), "its identifiers disagree"],
  ])("refuses a forged mutation that %s: nothing read or written, dead letter out_of_scope, audit record", async (_, originOf, why) => {
    const secret = await outOfScopeSecret();
    const window = cloudCallWindow(mesh);
    const awsRequestsBefore = mesh.awsProxy.requests.length;
    const vaultRequestsBefore = mesh.keyVault.requestLog().length;

    const event = await forge(originOf(secret));
    const deadLetter = await deadLetterOf(event);
    const audit = await tap.auditFor(event.id, 30_000);

    expect(deadLetter.error).toMatchObject({ reason: "out_of_scope", retryable: false });
    expect(deadLetter.error.message).toContain(why);
    expect(deadLetter.deliveries).toBe(1);
    expect(audit).toMatchObject({ decision: "dead_lettered", eventId: event.id, rule: mesh.ruleId, destination: { cloud: "azure", vault: "", name: "" } });
    expect(audit.detail).toMatch(/^out_of_scope: /);
    // Counted outside the code: not a Secrets Manager call (nor an STS call), not a Key Vault request.
    expect(window.calls()).toEqual({ aws: {}, azure: {} });
    expect(mesh.awsProxy.requests.slice(awsRequestsBefore)).toEqual([]);
    expect(mesh.keyVault.requestLog().slice(vaultRequestsBefore)).toEqual([]);
  });

  it("counts the refusals in the replicator's metrics", async () => {
    const metrics = parsePrometheusText(await (await fetch(`${mesh.replicatorOpsUrl}/metrics`)).text());
    expect(valueOf(metrics, "credmesh_dead_letters_total", { destination: "azure", reason: "out_of_scope" })).toBe(2);
  });

  it("still replicates what is in scope, and no role ever touches a subject it may not: the server reports no violation", async () => {
    // ingest and replicator-azure: a secret in scope, from the EventBridge webhook to Key Vault.
    const name = `prod/security/db-${randomBytes(3).toString("hex")}`;
    const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: randomBytes(24).toString("base64url") }));
    const event = cloudTrailEvent("aws-cloudtrail-createsecret.json", { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION }, { versionId: created.VersionId ?? "" });
    await postEventBridge(mesh, event);
    // The auditor's tap, with the standard CLI and the auditor's identity.
    const auditor = new ManagedProcess("nats sub", loadTools().natsCli, [...mesh.nats.natsArgs({ kind: "auditor" }), "sub", "credmesh.audit.>", "--count", "1"]);
    await auditor.waitForLine(/Subscribing on credmesh\.audit\.>/);
    expect((await tap.auditFor(event.id as string, 60_000)).decision).toBe("applied");
    await auditor.waitForLine(/credmesh\.audit\.azure\.applied/, 30_000);
    await auditor.stop();

    // The operator's commands, with the operator's identity.
    for (const args of [["status"], ["dlq", "list"], ["reconcile", "--dry-run"]]) {
      const run = await runCredmesh([...args, ...mesh.nats.credmeshArgs()], { timeoutMs: 120_000 });
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
    }
    const quarantine = await runCredmesh(["quarantine", "e2e-aws-1", "--reason", "e2e: permission check", ...mesh.nats.credmeshArgs()]);
    expect(quarantine.code).toBe(0);
    const release = await runCredmesh(["release", "e2e-aws-1", "--reason", "e2e: permission check done", ...mesh.nats.credmeshArgs()]);
    expect(release.code).toBe(0);

    const violations = (mesh.nats.process?.lines ?? []).filter((line) => /violation/i.test(line));
    expect(violations).toEqual([]);
  });
});
