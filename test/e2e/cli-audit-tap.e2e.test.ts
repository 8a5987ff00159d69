import { randomBytes } from "node:crypto";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { DEFAULT_PARTITIONS, STREAMS } from "@credmesh/bus-names";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BusTap } from "../support/bus-tap.ts";
import { runCredmesh, runCredmeshJson } from "../support/credmesh-cli.ts";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { ManagedProcess } from "../support/managed-process.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";
import { loadTools } from "../support/tools.ts";

/**
 * What an auditor and an on-call engineer see of a running mesh: the audit trail through the
 * standard `nats` CLI (SPEC section 1; issue 4, item 8), and `credmesh status` (consumers,
 * streams, last audit record per rule).
 */
describe("operating a running mesh: audit tap and status", () => {
  let mesh: Mesh;
  let tap: BusTap;
  let subscriber: ManagedProcess | undefined;
  const name = `prod/audit/db-password-${randomBytes(3).toString("hex")}`;
  const value = `pw-${randomBytes(18).toString("base64url")}`;
  let eventId = "";

  beforeAll(async () => {
    mesh = await startMesh({ namePrefixes: ["prod/"] });
    tap = new BusTap(mesh.bus, "credmesh.audit.>");
  }, 120_000);

  afterEach((context) => {
    if (context.task.result?.state === "fail") console.error(`--- nats sub ---\n${subscriber?.tail(40)}\n--- replicator ---\n${mesh.replicator.tail(25)}`);
  });

  afterAll(async () => {
    await subscriber?.stop();
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  it("shows a readable audit trail, without secret values, to `nats sub 'credmesh.audit.>'`", async () => {
    subscriber = new ManagedProcess("nats sub", loadTools().natsCli, [...mesh.nats.natsArgs({ kind: "auditor" }), "sub", "credmesh.audit.>", "--count", "1"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
    });
    await subscriber.waitForLine(/Subscribing on credmesh\.audit\.>/, 15_000);

    const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    const event = cloudTrailEvent(
      "aws-cloudtrail-createsecret.json",
      { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION },
      { versionId: created.VersionId ?? "" },
    );
    eventId = event.id as string;
    const response = await fetch(`${mesh.ingestUrl}/webhooks/eventbridge`, {
      method: "POST",
      headers: { "content-type": "application/json", [mesh.apiKeyHeader]: mesh.apiKey },
      body: JSON.stringify(event),
    });
    expect(response.status).toBe(202);

    // --count 1: the CLI exits after the first audit record; bounded in case none comes.
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([subscriber.exited, new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), 30_000)))]);
    clearTimeout(timer);
    expect(exit).toBe(0);
    const output = subscriber.lines.join("\n");
    expect(output).toContain('Received on "credmesh.audit.azure.applied"');
    const recordLine = subscriber.lines.find((line) => line.startsWith("{")) ?? "{}";
    expect(JSON.parse(recordLine)).toMatchObject({
      decision: "applied",
      correlationId: eventId,
      eventId,
      rule: mesh.ruleId,
      kind: "upsert",
      origin: { cloud: "aws", account: AWS_ACCOUNT, region: AWS_REGION, secretId: created.ARN, secretName: name },
      originVersion: created.VersionId,
      destination: { cloud: "azure", vault: expect.any(String), name: expect.stringMatching(/^prod-audit-db-password-/) },
    });
    for (const encoded of [value, Buffer.from(value).toString("base64"), Buffer.from(value).toString("hex")]) {
      expect(output).not.toContain(encoded);
    }
  });

  it("shows the replicator consumers, the streams and the last audit record per rule", async () => {
    await tap.auditFor(eventId);
    const run = await runCredmesh(["status", ...mesh.nats.credmeshArgs()]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Destination aws\nno replicator consumer \(replicator-aws\*\) on CREDMESH_MUTATIONS/);
    expect(run.stdout).toMatch(/\nreplicator-azure-p00\s+0\s+0\s+0\s+\d+\s+(yes|no)\s/);
    expect(run.stdout).toContain("total pending: 0   ack pending: 0");
    for (const stream of Object.values(STREAMS)) expect(run.stdout).toMatch(new RegExp(`\\n${stream.name}\\s+\\d+\\s`));
    expect(run.stdout).toMatch(new RegExp(`\\n${mesh.ruleId}\\s+azure\\s+applied\\s+\\S+Z\\s+aws/${AWS_ACCOUNT}/${AWS_REGION}/${name}\\s+${eventId}\\s+\\S+Z`));
    expect(run.stdout).not.toContain(value);

    const status = await runCredmeshJson<{
      destinations: Array<{ destination: string; consumers: Array<{ name: string; pending: number }>; mutations: number }>;
      streams: Array<{ name: string; missing: boolean; messages: number }>;
      rules: Array<{ rule: string; decision: string; secret: string; lastWriteAt?: string }>;
    }>(["status", ...mesh.nats.credmeshArgs()]);
    const azure = status.destinations.find((destination) => destination.destination === "azure");
    expect(azure?.consumers).toHaveLength(DEFAULT_PARTITIONS);
    expect(azure?.mutations).toBeGreaterThanOrEqual(1);
    expect(status.streams.every((stream) => !stream.missing)).toBe(true);
    expect(status.streams.find((stream) => stream.name === STREAMS.audit.name)?.messages).toBeGreaterThanOrEqual(1);
    expect(status.rules).toEqual([expect.objectContaining({ rule: mesh.ruleId, decision: "applied", secret: `aws/${AWS_ACCOUNT}/${AWS_REGION}/${name}`, lastWriteAt: expect.any(String) })]);
  });
});
