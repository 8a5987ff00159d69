import { randomBytes } from "node:crypto";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { Kvm, type KV } from "@nats-io/kv";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SECRET_LEASE_BUCKET } from "../../services/replicator/src/secret-lease.ts";
import { BusTap } from "../support/bus-tap.ts";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";
import { metricSum, postEventBridge, replicaVersions, scrape } from "../support/replication-workload.ts";

/** One hung attempt runs into the mutation's deadline (the attempt timeout is as long). */
const DEADLINE_MS = 8_000;
const ATTEMPT_TIMEOUT_MS = 8_000;
/** Renewed every 3 s: a stolen lease is noticed at least once while the hung call is still in flight. */
const LEASE_MS = 9_000;

/**
 * Issue 10, items 1 and 2: every cloud call has a deadline, and losing the secret's lease stops
 * the work. A fault proxy in front of moto accepts chosen requests and never answers (a hung
 * cloud). One replicator with one worker (`CREDMESH_REPLICATOR_CONCURRENCY=1`), so a worker held
 * by a hung call would stop every other secret: they replicate anyway.
 */
describe("deadlines and leases", () => {
  let mesh: Mesh;
  let tap: BusTap;
  let leases: KV;

  beforeAll(async () => {
    mesh = await startMesh({
      namePrefixes: ["deadline/"],
      faults: { aws: { rate: 0 } },
      replicatorEnv: {
        CREDMESH_REPLICATOR_CONCURRENCY: "1",
        CREDMESH_MUTATION_DEADLINE_MS: String(DEADLINE_MS),
        CREDMESH_CLOUD_ATTEMPT_TIMEOUT_MS: String(ATTEMPT_TIMEOUT_MS),
        CREDMESH_SECRET_LEASE_MS: String(LEASE_MS),
        CREDMESH_ACK_WAIT_MS: "10000",
      },
    });
    tap = new BusTap(mesh.bus, "credmesh.audit.>");
    leases = await new Kvm(mesh.bus).open(SECRET_LEASE_BUCKET);
  }, 180_000);

  afterEach((context) => {
    if (context.task.result?.state === "fail") console.error(mesh.replicator.tail(40));
  });

  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  const proxy = () => {
    const faults = mesh.faults.aws;
    if (!faults) throw new Error("no fault proxy");
    return faults;
  };

  /** Creates a secret in moto and announces it; returns its name and the event id. */
  const change = async (name: string): Promise<{ name: string; eventId: string }> => {
    const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: `v-${randomBytes(12).toString("hex")}` }));
    const event = cloudTrailEvent("aws-cloudtrail-createsecret.json", { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION }, { versionId: created.VersionId ?? "" });
    await postEventBridge(mesh, event);
    return { name, eventId: event.id as string };
  };

  const requestsFor = (name: string) => proxy().log.filter((entry) => entry.secret?.includes(name));

  /** Polls a condition the product does not announce on the bus (a metric, the proxy's log). */
  const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  it("fails a hung cloud call as a timeout within its deadline, keeps replicating other secrets, and applies it once the cloud answers", async () => {
    const hung = `deadline/hung-${randomBytes(3).toString("hex")}`;
    proxy().hangWhen((request) => request.secret?.includes(hung) === true);
    const stuck = await change(hung);
    await until("the hung request", () => requestsFor(hung).length > 0);

    // The only worker is not held: other secrets replicate while the cloud hangs for this one.
    const others = [];
    for (let index = 0; index < 4; index++) others.push(await change(`deadline/other-${index}-${randomBytes(3).toString("hex")}`));
    for (const other of others) expect((await tap.auditFor(other.eventId, 60_000)).decision).toBe("applied");

    // The hung mutation failed as a retryable timeout and was handed back to the bus.
    await until("a timeout counted", async () => metricSum(await scrape(mesh.replicatorOpsUrl), "credmesh_replication_failures_total", { reason: "timeout" }) > 0);
    // Every hung attempt was given up by the replicator itself (per-attempt timeout or deadline):
    // the proxy saw each connection closed by the client, none is left open.
    await until("every hung attempt closed", () => requestsFor(hung).every((entry) => entry.outcome !== "pending"));
    const attempts = requestsFor(hung);
    for (const attempt of attempts) expect(attempt.fault).toBe("hang");
    const longest = Math.max(...attempts.map((entry) => (entry.settledAt ?? 0) - entry.at));
    console.info(`deadlines: ${attempts.length} hung attempts so far, the longest held ${longest} ms (attempt timeout ${ATTEMPT_TIMEOUT_MS} ms, deadline ${DEADLINE_MS} ms)`);

    // The cloud answers again: the redelivered mutation applies, once.
    proxy().hangWhen(undefined);
    const settled = await tap.auditFor(stuck.eventId, 90_000);
    expect(settled.decision).toBe("applied");
    const destination = (settled.destination as { name: string }).name;
    expect(await replicaVersions(mesh, destination)).toHaveLength(1);
    // Released, not left to expire: a redelivery never found its own lease held.
    const metrics = await scrape(mesh.replicatorOpsUrl);
    expect(metricSum(metrics, "credmesh_replication_failures_total", { reason: "operation_in_progress" })).toBe(0);
    expect(metricSum(metrics, "credmesh_dead_letters_total")).toBe(0);
    expect(await leaseKeys()).toEqual([]);
  }, 150_000);

  it("stops a mutation whose lease was taken away before its next cloud call; the next holder applies it with exactly one write", async () => {
    const name = `deadline/stolen-${randomBytes(3).toString("hex")}`;
    proxy().hangWhen((request) => request.secret?.includes(name) === true && request.operation === "GetSecretValue");
    const mutation = await change(name);
    await until("the hung read", () => requestsFor(name).length > 0);
    const [key] = await leaseKeys();
    expect(key).toBeDefined();

    // Another holder takes the lease (as a replica would after a pause longer than the TTL) and
    // keeps renewing it.
    const stolenAt = Date.now();
    const thief = async () => void (await leases.put(key ?? "", new TextEncoder().encode(JSON.stringify({ cell: "thief", since: new Date(stolenAt).toISOString() }))));
    await thief();
    const renewing = setInterval(() => void thief().catch(() => undefined), 1_000);
    // The renewal fails, the lease is lost, the hung call is aborted by the replicator.
    await until("the hung read aborted", () => requestsFor(name).every((entry) => entry.outcome !== "pending"), 30_000);
    // Redeliveries meet the thief's lease and go back to the bus without touching the cloud.
    await until("a redelivery refused by the lease", async () =>
      metricSum(await scrape(mesh.replicatorOpsUrl), "credmesh_replication_failures_total", { reason: "operation_in_progress" }) > 1,
    );
    const afterLoss = requestsFor(name).filter((entry) => entry.at > stolenAt);
    expect(afterLoss, "cloud calls for the secret after its lease was lost").toEqual([]);
    // It was the lost lease, not the deadline, that stopped the mutation.
    expect(mesh.replicator.lines.some((line) => line.includes("mutation abandoned before its next cloud call") && line.includes('"leaseLost":true'))).toBe(true);

    // The thief lets go and the cloud answers: the next holder applies the mutation, one write.
    clearInterval(renewing);
    proxy().hangWhen(undefined);
    await leases.delete(key ?? "");
    const settled = await tap.auditFor(mutation.eventId, 90_000);
    expect(settled.decision).toBe("applied");
    const destination = (settled.destination as { name: string }).name;
    expect(await replicaVersions(mesh, destination)).toHaveLength(1);
    expect(tap.auditRecords().filter((record) => (record as { eventId?: string }).eventId === mutation.eventId)).toHaveLength(1);
  }, 150_000);

  async function leaseKeys(): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of await leases.keys()) {
      const entry = await leases.get(key);
      if (entry?.operation === "PUT") keys.push(key);
    }
    return keys;
  }
});
