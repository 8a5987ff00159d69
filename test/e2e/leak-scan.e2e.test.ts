/**
 * Leak scan at scale (SPEC §4, issue 12 item 6): 1,000 secrets replicated both ways — 500 born in
 * AWS, 500 in Key Vault — plus dead letters in both directions and their replay, with every
 * service logging at debug. Then every place a value could escape is searched for every value in
 * every form (test/support/leak-scanner.ts: raw, JSON-escaped, URL-encoded, hex, base64/base64url
 * at any alignment, one inside another): each message on every subject (a tap on `>`, headers
 * included, from before the first secret), the dead-letter and audit streams read back, every log
 * line of every credmesh process, every service's /metrics, every ingest answer (including the
 * errors), and the operator CLI's output (`dlq list`, `dlq replay`, `status`, `reconcile
 * --dry-run`, an error of `dlq replay`), text and `--json`.
 */
import { randomBytes } from "node:crypto";
import { CreateSecretCommand, DeleteSecretCommand } from "@aws-sdk/client-secrets-manager";
import { STREAMS } from "@credmesh/bus-names";
import { toKeyVaultName } from "@credmesh/replicas";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusTap } from "../support/bus-tap.ts";
import { auditTrail, readStream } from "../support/chaos/facts.ts";
import { runCredmesh, type CliRun } from "../support/credmesh-cli.ts";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { secretNewVersionCreated } from "../support/eventgrid.ts";
import { LeakScanner, leakForms, type Leak } from "../support/leak-scanner.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";
import { deadLetterCount, waitForAudits, waitForDrain } from "../support/replication-workload.ts";
import { until } from "../support/wait.ts";

const VAULT = "credmesh-leaks";
const PER_DIRECTION = 500;
/** Of each direction's secrets, this many meet an unmanaged secret at their destination: dead letters. */
const DEAD_LETTERS = 20;
const CONCURRENCY = 16;
/** The Key Vault name of an AWS secret's replica (the replicator's own mapping). */
const replicaName = (name: string): string => toKeyVaultName("{name}", { name, account: AWS_ACCOUNT, region: AWS_REGION });

describe("leak scan: 1,000 secrets both ways, dead letters and a replay", () => {
  let mesh: Mesh;
  let tap: BusTap;
  const scanner = new LeakScanner();
  const eventGridKey = randomBytes(24).toString("base64url");
  /** Every ingest answer body, for the scan. */
  const answers: string[] = [];
  const cliRuns: Array<{ args: string[]; run: CliRun }> = [];
  const timings: Record<string, number> = {};
  const eventIds: string[] = [];
  const deadLettered = { aws: [] as string[], azure: [] as string[] };

  const post = async (path: string, headers: Record<string, string>, body: unknown): Promise<number> => {
    const response = await fetch(`${mesh.ingestUrl}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    answers.push(await response.text());
    return response.status;
  };
  const cli = async (args: string[]): Promise<CliRun> => {
    const run = await runCredmesh([...args, ...mesh.nats.credmeshArgs()], { timeoutMs: 180_000 });
    cliRuns.push({ args, run });
    return run;
  };
  /** Runs `work` over `items` with a bounded number in flight. */
  const bounded = async <T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> => {
    const queue = [...items];
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }));
  };

  beforeAll(async () => {
    let started = Date.now();
    mesh = await startMesh({
      namePrefixes: ["leakaws/"],
      azureToAws: { vaultName: VAULT, namePrefixes: ["leakaz-"] },
      ingestEnv: { CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS: eventGridKey },
      replicatorEnv: { CREDMESH_RECONCILE_INTERVAL_SECONDS: "0" },
    });
    tap = new BusTap(mesh.bus, ">");
    timings.meshStartMs = Date.now() - started;
    started = Date.now();

    const run = randomBytes(3).toString("hex");
    const awsNames = Array.from({ length: PER_DIRECTION }, (_, index) => `leakaws/${run}/a${String(index).padStart(3, "0")}`);
    const azureNames = Array.from({ length: PER_DIRECTION }, (_, index) => `leakaz-${run}-z${String(index).padStart(3, "0")}`);
    // The dead letters' cause: a secret credmesh does not manage already holds the destination name.
    for (const name of awsNames.slice(0, DEAD_LETTERS)) {
      await mesh.keyVaultClient.setSecret(replicaName(name), scanner.value(), { tags: { owner: "someone-else" } });
    }
    for (const name of azureNames.slice(0, DEAD_LETTERS)) {
      await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: scanner.value(), Tags: [{ Key: "owner", Value: "someone-else" }] }));
    }

    await bounded([...awsNames.map((name) => ["aws", name] as const), ...azureNames.map((name) => ["azure", name] as const)], async ([cloud, name]) => {
      const value = scanner.value();
      if (cloud === "aws") {
        const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
        const event = cloudTrailEvent("aws-cloudtrail-createsecret.json", { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION }, { versionId: created.VersionId ?? "" });
        eventIds.push(String(event.id));
        expect(await post("/webhooks/eventbridge", { "content-type": "application/json", [mesh.apiKeyHeader]: mesh.apiKey }, event)).toBe(202);
      } else {
        const version = (await mesh.keyVaultClient.setSecret(name, value)).properties.version ?? "";
        const events = secretNewVersionCreated(VAULT, name, version);
        eventIds.push(String(events[0]?.id));
        expect(await post("/webhooks/eventgrid", { "content-type": "application/json", "aeg-event-type": "Notification", authorization: eventGridKey }, events)).toBe(200);
      }
    });
    // Refused deliveries answer with errors: those answers are scanned too.
    expect(await post("/webhooks/eventbridge", { "content-type": "application/json", [mesh.apiKeyHeader]: mesh.apiKey }, { detail: scanner.values[0] })).toBeGreaterThanOrEqual(400);
    expect(await post("/webhooks/eventbridge", { "content-type": "application/json", [mesh.apiKeyHeader]: "wrong" }, { secret: scanner.values[1] })).toBe(401);
    timings.postedMs = Date.now() - started;

    await waitForAudits(tap, eventIds, 600_000);
    await waitForDrain(mesh.bus, "azure", 120_000);
    await waitForDrain(mesh.bus, "aws", 120_000);
    timings.replicatedMs = Date.now() - started;
    for (const record of tap.auditRecords()) if (record.decision === "dead_lettered") deadLettered[record.destination.cloud].push(record.eventId);

    // Fix the causes (the unmanaged secrets go away), then replay every dead letter with the CLI.
    await cli(["dlq", "list"]);
    await cli(["dlq", "list", "--json"]);
    await cli(["status"]);
    await cli(["status", "--json"]);
    // A dead letter that is not there (already replayed: not an error) and a command that is refused: their answers are scanned too.
    await cli(["dlq", "replay", "--seq", "999999999"]);
    await cli(["dlq", "replay"]);
    await bounded(awsNames.slice(0, DEAD_LETTERS), async (name) => {
      const replica = replicaName(name);
      await (await mesh.keyVaultClient.beginDeleteSecret(replica, { intervalInMs: 200 })).pollUntilDone();
      await mesh.keyVaultClient.purgeDeletedSecret(replica);
    });
    await bounded(azureNames.slice(0, DEAD_LETTERS), async (name) => {
      await mesh.secretsManager.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    });
    await until("purges to complete", async () => {
      for await (const _deleted of mesh.keyVaultClient.listDeletedSecrets()) return false;
      return true;
    }, 60_000, 500);
    await cli(["dlq", "replay", "--all", "--dry-run"]);
    await cli(["dlq", "replay", "--all", "--json"]);
    await cli(["reconcile", "--dry-run"]);
    await cli(["reconcile", "--dry-run", "--json"]);
    await waitForDrain(mesh.bus, "azure", 120_000);
    await waitForDrain(mesh.bus, "aws", 120_000);
    await cli(["status"]);
    timings.replayedMs = Date.now() - started;
  }, 900_000);

  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  it("replicated 1,000 secrets both ways, dead-lettered the ones facing a secret it does not own, and applied them on replay", async () => {
    const records = tap.auditRecords();
    const decided = new Map(records.map((record) => [record.eventId, record.decision]));
    expect(eventIds).toHaveLength(2 * PER_DIRECTION);
    expect(eventIds.filter((id) => !decided.has(id))).toEqual([]);
    expect(deadLettered.azure).toHaveLength(DEAD_LETTERS);
    expect(deadLettered.aws).toHaveLength(DEAD_LETTERS);
    // The audit trail as the audit stream keeps it (a publish retried with its message id, or a
    // redelivery deciding the same again, is on the wire twice and in the stream once): each
    // replayed dead letter applied exactly once.
    const trail = await auditTrail(mesh.bus);
    const replayed = trail.filter((record) => record.decision === "applied" && record.eventId.startsWith("replay:"));
    const onTheWire = records.filter((record) => record.decision === "applied" && record.eventId.startsWith("replay:")).length;
    const settled = [...(mesh.replicator.lines), ...(mesh.replicatorAws?.lines ?? [])].filter((line) => line.includes('"eventId":"replay:') && line.includes('"mutation settled"'));
    console.info(`leak-scan: replayed dead letters applied ${replayed.length} (audit stream), ${onTheWire} audit publishes on the wire, ${settled.length} "mutation settled" lines; e.g. ${settled.slice(0, 2).join(" | ")}`);
    expect(new Set(replayed.map((record) => record.eventId)).size).toBe(2 * DEAD_LETTERS);
    expect(replayed).toHaveLength(2 * DEAD_LETTERS);
    expect(await deadLetterCount(mesh.bus)).toBe(0);
    for (const { args, run } of cliRuns) {
      const expectFailure = args.join(" ") === "dlq replay";
      expect({ args, code: run.code === 0 }).toEqual({ args, code: !expectFailure });
      if (args.includes("999999999")) expect(run.stdout).toContain("no dead letter 999999999");
    }
    console.info(`leak-scan: ${scanner.values.length} values; timings ${JSON.stringify(timings)}`);
  });

  it("finds a value in every form it can leak in (the scanner's own check)", () => {
    const probe = new LeakScanner();
    const value = probe.value();
    for (const [form, text] of Object.entries(leakForms(value))) {
      expect({ form, found: probe.scan(form, `{"x":"${text}","y":1}`).length > 0 }).toEqual({ form, found: true });
    }
    expect(probe.scan("clean", JSON.stringify(tap.messages.slice(0, 50)))).toEqual([]);
  });

  it("puts no value, in any form, on the bus, in a log line, a metric, a dead letter, an answer or the CLI's output", async () => {
    const started = Date.now();
    const leaks: Leak[] = [];
    const sizes: Record<string, number> = {};
    const scan = (where: string, texts: readonly string[]): void => {
      sizes[where] = (sizes[where] ?? 0) + texts.length;
      for (const text of texts) leaks.push(...scanner.scan(where, text));
    };
    scan(
      "bus (every subject)",
      tap.messages.map((message) => `${message.subject}\n${message.headers}\n${message.data}`),
    );
    for (const stream of [STREAMS.deadLetters.name, STREAMS.audit.name, STREAMS.mutations.name, STREAMS.identity.name]) {
      const stored: string[] = [];
      await readStream(mesh.bus, stream, (msg) => stored.push(`${msg.subject}\n${msg.headers ? [...msg.headers].join("\n") : ""}\n${new TextDecoder().decode(msg.data)}`));
      scan(`stream ${stream}`, stored);
    }
    for (const process of [...mesh.ingests, ...mesh.replicators, ...mesh.replicatorsAws]) scan(`log of ${process.name}`, process.lines);
    const opsUrls = [mesh.ingestUrl, mesh.replicatorOpsUrl];
    const awsOps = mesh.replicatorAws?.lines.find((line) => line.includes('"replicator running"'));
    if (awsOps) opsUrls.push(`http://127.0.0.1:${String((JSON.parse(awsOps) as { opsPort: number }).opsPort)}`);
    scan("metrics", await Promise.all(opsUrls.map(async (url) => (await fetch(`${url}/metrics`)).text())));
    scan("ingest answers", answers);
    scan(
      "CLI output",
      cliRuns.map(({ run }) => `${run.stdout}\n${run.stderr}`),
    );
    console.info(`leak-scan: scanned ${JSON.stringify(sizes)} for ${scanner.values.length} values in ${Date.now() - started} ms`);
    expect(sizes["bus (every subject)"]).toBeGreaterThan(2 * PER_DIRECTION);
    expect(leaks.slice(0, 20)).toEqual([]);
  });
});
