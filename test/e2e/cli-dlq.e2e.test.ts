import { randomBytes } from "node:crypto";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BusTap } from "../support/bus-tap.ts";
import { runCredmesh, type CliRun } from "../support/credmesh-cli.ts";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";
import { until } from "../support/wait.ts";

interface Listing {
  total: number;
  records: Array<{ seq: number; eventId?: string; reason: string; secret?: string; rule?: string; correlationId?: string; replayable: boolean; deliveries?: number }>;
}
interface ReplayOutput {
  results: Array<{ seq: number; outcome: string; eventId?: string; correlationId?: string; removed?: boolean }>;
}

/**
 * Issue 4, must show: a permanently failing mutation lands in the dead letters, and
 * `credmesh dlq replay` applies it once the cause is fixed — on the real mesh (ingest, JetStream,
 * replicator, moto, the Key Vault emulator), with the real CLI as a child process.
 */
describe("credmesh dlq: dead letters and replay", () => {
  let mesh: Mesh;
  let tap: BusTap;
  const runs: CliRun[] = [];
  const values: string[] = [];

  const cli = async (args: string[]): Promise<CliRun> => {
    const run = await runCredmesh([...args, ...mesh.nats.credmeshArgs()]);
    runs.push(run);
    return run;
  };
  const cliJson = async <T>(args: string[]): Promise<T> => {
    const run = await cli([...args, "--json"]);
    if (run.code !== 0) throw new Error(`credmesh ${args.join(" ")} exited ${run.code}\n${run.stderr}`);
    return JSON.parse(run.stdout) as T;
  };

  beforeAll(async () => {
    mesh = await startMesh({ namePrefixes: ["prod-"] });
    tap = new BusTap(mesh.bus, "credmesh.>");
  }, 120_000);

  afterEach((context) => {
    if (context.task.result?.state === "fail") {
      console.error(`--- replicator ---\n${mesh.replicator.tail(25)}\n--- cli ---\n${runs.map((run) => `${run.stdout}\n${run.stderr}`).join("\n")}`);
    }
  });

  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  it("dead-letters a write into an unmanaged Key Vault secret, lists it, and replays it once the name is free", async () => {
    // The cause: someone else's secret holds the Key Vault name the AWS secret maps to.
    const name = `prod-dlq-${randomBytes(3).toString("hex")}`;
    const foreign = `foreign-${randomBytes(12).toString("hex")}`;
    const value = `pw-${randomBytes(18).toString("base64url")}`;
    values.push(foreign, value);
    await mesh.keyVaultClient.setSecret(name, foreign, { tags: { owner: "payments-team" } });
    const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    const secret = { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION };
    const event = cloudTrailEvent("aws-cloudtrail-createsecret.json", secret, { versionId: created.VersionId ?? "" });
    const response = await fetch(`${mesh.ingestUrl}/webhooks/eventbridge`, {
      method: "POST",
      headers: { "content-type": "application/json", [mesh.apiKeyHeader]: mesh.apiKey },
      body: JSON.stringify(event),
    });
    expect(response.status).toBe(202);
    expect((await tap.auditFor(event.id as string)).decision).toBe("dead_lettered");

    // credmesh dlq list shows it, with the origin's identifiers and the reason.
    const listing = await cliJson<Listing>(["dlq", "list", "--destination", "azure"]);
    const record = listing.records.find((candidate) => candidate.eventId === event.id);
    expect(record).toMatchObject({
      reason: "unmanaged_destination",
      secret: `aws/${AWS_ACCOUNT}/${AWS_REGION}/${name}`,
      rule: mesh.ruleId,
      correlationId: event.id,
      replayable: true,
      deliveries: 1,
    });
    const seq = record?.seq ?? 0;
    const table = await cli(["dlq", "list"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`\\n${seq}\\s+\\S+Z\\s+azure\\s+${mesh.ruleId}\\s+upsert\\s+aws/${AWS_ACCOUNT}/${AWS_REGION}/${name}\\s+unmanaged_destination\\s+1\\s+${String(event.id)}`));

    // Fix the cause: the owner deletes and purges their secret, so the name is free.
    await (await mesh.keyVaultClient.beginDeleteSecret(name, { intervalInMs: 100 })).pollUntilDone();
    await mesh.keyVaultClient.purgeDeletedSecret(name);
    await until("the purge to complete", async () => {
      try {
        await mesh.keyVaultClient.getDeletedSecret(name);
        return false;
      } catch (error) {
        return (error as { statusCode?: number }).statusCode === 404;
      }
    });

    const replay = await cliJson<ReplayOutput>(["dlq", "replay", "--seq", String(seq)]);
    expect(replay.results).toEqual([expect.objectContaining({ seq, outcome: "replayed", removed: true, correlationId: event.id })]);
    const replayId = replay.results[0]?.eventId ?? "";
    expect(replayId).toMatch(new RegExp(`^replay:${seq}:[0-9a-f]{12}$`));

    // The replicator applies the replayed mutation: audited as applied, under the original correlation id.
    const audit = await tap.auditFor(replayId);
    expect(audit).toMatchObject({ decision: "applied", correlationId: event.id, rule: mesh.ruleId, destination: { cloud: "azure", name } });
    const replica = await mesh.keyVaultClient.getSecret(name);
    expect(replica.value).toBe(value);
    expect(replica.properties.tags).toMatchObject({ "managed-by": "credmesh", "credmesh-origin-name": name, "credmesh-origin-version": created.VersionId });

    // It is gone from the dead letters, and replaying it again does nothing.
    const after = await cliJson<Listing>(["dlq", "list"]);
    expect(after.records.map((candidate) => candidate.seq)).not.toContain(seq);
    const again = await cli(["dlq", "replay", "--seq", String(seq)]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`dead letter ${seq}: nothing to replay`);
    expect(tap.auditRecords().filter((candidate) => candidate.eventId === replayId)).toHaveLength(1);
  });

  it("never prints a secret value", () => {
    expect(runs.length).toBeGreaterThan(4);
    for (const run of runs) {
      for (const value of values) {
        expect(run.stdout).not.toContain(value);
        expect(run.stderr).not.toContain(value);
      }
    }
  });
});
