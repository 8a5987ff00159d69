/**
 * The bus as production runs it: a 3-node JetStream cluster (issue 12 items 1 and 2). The services
 * create every stream and KV bucket R3 when `CREDMESH_STREAM_REPLICAS=3` and check them at boot and
 * on every readiness probe — a stream or bucket with another replica count is reported (readiness,
 * log line, metric), never silently used or rescaled. ingest rides out a stream leader election
 * inside the sender's wait (same message id on every attempt, so each event is stored once), and
 * when the bus cannot take an event for longer it answers 503 with Retry-After.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { STREAMS } from "@credmesh/bus-names";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { secretNewVersionCreated } from "../support/eventgrid.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";
import { streamLeader } from "../support/nats-cluster.ts";
import { metricSum, scrape } from "../support/replication-workload.ts";
import { readStream } from "../support/chaos/facts.ts";

const VAULT = "credmesh-cluster";
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Readiness {
  ready: boolean;
  checks: Record<string, boolean>;
  details?: Record<string, string>;
}

describe("credmesh on a 3-node JetStream cluster", () => {
  let mesh: Mesh;
  let jsm: JetStreamManager;
  const eventGridKey = randomBytes(24).toString("base64url");

  beforeAll(async () => {
    mesh = await startMesh({
      cluster: {},
      namePrefixes: ["prod/"],
      azureToAws: { vaultName: VAULT, namePrefixes: ["app-"] },
      ingestEnv: { CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS: eventGridKey },
    });
    jsm = await jetstreamManager(mesh.bus);
  }, 180_000);

  afterAll(async () => {
    await mesh?.stop();
  }, 60_000);

  const readiness = async (url: string): Promise<{ status: number; body: Readiness }> => {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) });
    return { status: response.status, body: (await response.json()) as Readiness };
  };
  const replicatorAwsOps = (): string => {
    const line = mesh.replicatorAws?.lines.find((candidate) => candidate.includes('"replicator running"')) ?? "";
    return `http://127.0.0.1:${String((JSON.parse(line) as { opsPort: number }).opsPort)}`;
  };
  /** Every stream and KV bucket the services created, by name. */
  const credmeshStreams = async (): Promise<Map<string, { replicas: number; peers: string[] }>> => {
    const found = new Map<string, { replicas: number; peers: string[] }>();
    for await (const info of jsm.streams.list()) {
      if (!info.config.name.startsWith("CREDMESH_") && !info.config.name.startsWith("KV_credmesh-")) continue;
      found.set(info.config.name, { replicas: info.config.num_replicas, peers: [info.cluster?.leader ?? "", ...(info.cluster?.replicas ?? []).map((peer) => peer.name)].filter(Boolean).sort() });
    }
    return found;
  };

  it("creates every stream and KV bucket with three replicas, placed on the three nodes, and is ready", async () => {
    const streams = await credmeshStreams();
    expect([...streams.keys()].sort()).toEqual(
      expect.arrayContaining([
        ...Object.values(STREAMS).map((stream) => stream.name),
        "KV_credmesh-quarantine",
        "KV_credmesh-secret-leases",
        "KV_credmesh-reconcile-lock",
        "KV_credmesh-reconcile-runs",
      ]),
    );
    for (const [name, stream] of streams) expect({ name, ...stream }).toEqual({ name, replicas: 3, peers: ["n1", "n2", "n3"] });
    // Ready once each has read what it needs (a replicator's quarantine state: its first read on a
    // freshly formed cluster may fail and is retried within a second); a probe is polled, as an
    // orchestrator does.
    for (const url of [mesh.ingestUrl, mesh.replicatorOpsUrl, replicatorAwsOps()]) {
      await expect.poll(() => readiness(url), { timeout: 30_000, interval: 250 }).toEqual({ status: 200, body: { ready: true, checks: expect.objectContaining({ bus: true, streams: true }) as Record<string, boolean> } });
    }
    const metrics = await scrape(mesh.ingestUrl);
    expect(metricSum(metrics, "credmesh_bus_stream_replicas", { stream: STREAMS.mutations.name, state: "placed" })).toBe(3);
    expect(metricSum(metrics, "credmesh_bus_stream_replicas_mismatch")).toBe(0);
  });

  it("reports a stream or bucket with another replica count — readiness, log, metric — and does not rescale it at boot", async () => {
    // An operator (or an older install) left the mutation stream and a lock bucket at R1.
    for (const name of [STREAMS.mutations.name, "KV_credmesh-reconcile-runs"]) {
      await jsm.streams.update(name, { ...(await jsm.streams.info(name)).config, num_replicas: 1 });
    }
    const ingest = await readiness(mesh.ingestUrl);
    expect(ingest.status).toBe(503);
    expect(ingest.body.checks.streams).toBe(false);
    expect(ingest.body.details?.streams).toContain("CREDMESH_MUTATIONS has 1 replica(s), CREDMESH_STREAM_REPLICAS is 3");
    const replicator = await readiness(mesh.replicatorOpsUrl);
    expect(replicator.status).toBe(503);
    expect(replicator.body.details?.streams).toContain("KV_credmesh-reconcile-runs has 1 replica(s), CREDMESH_STREAM_REPLICAS is 3");
    expect(metricSum(await scrape(mesh.ingestUrl), "credmesh_bus_stream_replicas_mismatch", { stream: STREAMS.mutations.name })).toBe(1);
    expect(mesh.ingest.lines.some((line) => line.includes('"stream not as configured') && line.includes("CREDMESH_MUTATIONS"))).toBe(true);

    // A restarted ingest (which ensures the streams at boot) keeps the stream as it found it, and says so.
    const ingestBefore = mesh.ingests[0];
    if (!ingestBefore) throw new Error("no ingest");
    const restarted = await mesh.restart(ingestBefore);
    expect((await jsm.streams.info(STREAMS.mutations.name)).config.num_replicas).toBe(1);
    expect(restarted.lines.some((line) => line.includes('"stream not as configured') && line.includes("CREDMESH_MUTATIONS"))).toBe(true);
    expect((await readiness(mesh.ingestUrl)).status).toBe(503);

    // The operator scales them back: ready again, without a restart.
    for (const name of [STREAMS.mutations.name, "KV_credmesh-reconcile-runs"]) {
      await jsm.streams.update(name, { ...(await jsm.streams.info(name)).config, num_replicas: 3 });
    }
    await expect.poll(async () => (await readiness(mesh.ingestUrl)).status, { timeout: 30_000, interval: 250 }).toBe(200);
    await expect.poll(async () => (await readiness(mesh.replicatorOpsUrl)).status, { timeout: 30_000, interval: 250 }).toBe(200);
    expect(metricSum(await scrape(mesh.ingestUrl), "credmesh_bus_stream_replicas_mismatch", { stream: STREAMS.mutations.name })).toBe(0);
  });

  it("holds Event Grid deliveries through a stream leader SIGKILL and acknowledges every one, each event stored once", async () => {
    const retriesBefore = metricSum(await scrape(mesh.ingestUrl), "credmesh_bus_publish_retries_total");
    const leader = await streamLeader(mesh.bus, STREAMS.mutations.name, 2_000);
    if (!leader) throw new Error("no mutation stream leader");
    const ids: string[] = [];
    const statuses: number[] = [];
    let stop = false;
    // One delivery after another, as one Event Grid subscription sends them, straight to ingest.
    const sender = (async () => {
      for (let index = 0; !stop; index++) {
        const name = `app-cluster-${index}`;
        const version = (await mesh.keyVaultClient.setSecret(name, `v-${randomBytes(12).toString("base64url")}`)).properties.version ?? "";
        const events = secretNewVersionCreated(VAULT, name, version);
        ids.push(String(events[0]?.id));
        const response = await fetch(`${mesh.ingestUrl}/webhooks/eventgrid`, {
          method: "POST",
          headers: { "content-type": "application/json", "aeg-event-type": "Notification", authorization: eventGridKey },
          body: JSON.stringify(events),
          signal: AbortSignal.timeout(30_000),
        });
        await response.body?.cancel();
        statuses.push(response.status);
      }
    })();
    await sleep(1_000);
    await mesh.cluster?.kill(leader);
    await expect.poll(async () => (await streamLeader(mesh.bus, STREAMS.mutations.name, 500)) ?? leader, { timeout: 60_000, interval: 100 }).not.toBe(leader);
    await sleep(2_000);
    stop = true;
    await sender;
    await mesh.cluster?.restart(leader);

    expect(statuses.length).toBeGreaterThan(5);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    // Held, not refused: ingest tried again (same message id) until the new leader took them.
    expect(metricSum(await scrape(mesh.ingestUrl), "credmesh_bus_publish_retries_total")).toBeGreaterThan(retriesBefore);
    const stored = new Map<string, number>();
    await readStream(mesh.bus, STREAMS.mutations.name, (msg) => {
      const id = msg.headers?.get("Nats-Msg-Id") ?? "";
      stored.set(id, (stored.get(id) ?? 0) + 1);
    });
    expect(ids.filter((id) => stored.get(id) !== 1)).toEqual([]);
  });

  it("answers an EventBridge delivery 503 with Retry-After once its publish window is spent without a quorum, and takes it when EventBridge retries", async () => {
    const cluster = mesh.cluster;
    if (!cluster) throw new Error("no cluster");
    await cluster.waitHealthy();
    const name = `prod/cluster/${randomUUID()}`;
    const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: randomBytes(16).toString("hex") }));
    const event = cloudTrailEvent("aws-cloudtrail-createsecret.json", { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION }, { versionId: created.VersionId ?? "" });
    const deliver = async (): Promise<{ status: number; retryAfter: string | null; ms: number }> => {
      const started = Date.now();
      const response = await fetch(`${mesh.ingestUrl}/webhooks/eventbridge`, {
        method: "POST",
        headers: { "content-type": "application/json", [mesh.apiKeyHeader]: mesh.apiKey },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(30_000),
      });
      await response.body?.cancel();
      return { status: response.status, retryAfter: response.headers.get("retry-after"), ms: Date.now() - started };
    };
    // Two of three nodes gone: no stream has a quorum.
    const [survivor, ...others] = cluster.nodes.map((node) => node.name);
    await Promise.all(others.map((node) => cluster.kill(node)));
    const refused = await deliver();
    expect(refused.status).toBe(503);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    // Not before its publish window (CREDMESH_EVENTBRIDGE_PUBLISH_WINDOW_MS, 4 s): it kept trying.
    expect(refused.ms).toBeGreaterThanOrEqual(4_000);
    console.info(`503 after ${refused.ms} ms with ${survivor} alone`);

    for (const node of others) await cluster.restart(node);
    await cluster.waitHealthy();
    await expect.poll(async () => (await deliver()).status, { timeout: 60_000, interval: 1_000 }).toBe(202);
  });
});
