import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { until } from "../support/wait.ts";
import { credentialEnv, deliver, inScopeSecret, newCredentials, scrape, startIngest, storedMutations, type Ingest } from "./support/ingest.ts";
import { startRestartableNats, type RestartableNats } from "./support/nats-server.ts";
import { changes, type SeriesChange } from "./support/prometheus-text.ts";

/**
 * ingest while its bus goes away and comes back: EventBridge must be told to retry (503 with
 * Retry-After, inside its 5 s deadline), the orchestrator must see "not ready" but "alive" (so it
 * stops routing without restarting the pod), and ingest must come back by itself on the same
 * address, losing nothing that EventBridge retries.
 * @see ../../../shared/SPEC.md sections 2 (ingest) and 5; ../../../shared/FORMATS.md section B
 */

/** EventBridge abandons an invocation that has not answered within 5 s (FORMATS.md B). */
const EVENTBRIDGE_DEADLINE_MS = 5_000;
/** Generous against the kubelet's 1 s default, for a loaded CI machine; a JetStream API timeout is 5 s. */
const PROBE_TIMEOUT_MS = 2_000;

interface Readiness {
  status: number;
  body: { ready: boolean; checks: Record<string, boolean> };
}

describe("ingest: bus outage", () => {
  let nats: RestartableNats;
  let ingest: Ingest;
  let observer: NatsConnection | undefined;
  const credentials = newCredentials();
  const headers = { [credentials.apiKeyHeader]: credentials.apiKeys[0] };

  beforeAll(async () => {
    nats = await startRestartableNats();
    ingest = await startIngest({ ...nats.env({ kind: "ingest" }), ...credentialEnv(credentials) });
  });

  afterEach((context) => {
    if (context.task.result?.state === "fail") {
      console.error(`--- ingest ---\n${ingest?.process.tail(25)}\n--- nats-server ---\n${nats?.process.tail(10)}`);
    }
  });

  afterAll(async () => {
    await observer?.close();
    await ingest?.stop();
    await nats?.dispose();
  });

  /** A readiness probe gives up quickly (the kubelet's default is 1 s); /readyz must answer well within that. */
  const readiness = async (): Promise<Readiness> => {
    const response = await fetch(`${ingest.url}/readyz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return { status: response.status, body: (await response.json()) as Readiness["body"] };
  };
  const event = (name: string) => cloudTrailEvent("aws-cloudtrail-putsecretvalue.json", inScopeSecret(name), { versionId: randomUUID() });

  it("answers 503 + Retry-After while the bus is down, stays alive but not ready, and recovers by itself", async () => {
    expect(await readiness()).toEqual({ status: 200, body: { ready: true, checks: { bus: true, streams: true } } });
    const before = event("outage/before");
    expect((await deliver(ingest.url, { body: before, headers })).status).toBe(202);

    await nats.stop();
    // ingest logs the client's disconnect notification: the moment it knows, without a sleep.
    await ingest.process.waitForLine(/"nats":"disconnect"/, 10_000);

    const metricsBefore = await scrape(ingest.url);
    const during = event("outage/during");
    const refused = await deliver(ingest.url, { body: during, headers });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: { code: "bus_unavailable", message: expect.any(String) } });
    expect(Object.keys(refused.body)).toEqual(["error"]);
    // A positive number of seconds: EventBridge takes it into account; a negative one would stop retries.
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.elapsedMs).toBeLessThan(EVENTBRIDGE_DEADLINE_MS);

    const metricsAfter = await scrape(ingest.url);
    expect(changes(metricsBefore, metricsAfter, "credmesh_ingest_events_total")).toEqual<SeriesChange[]>([
      { labels: { source: "aws.eventbridge", outcome: "bus_unavailable", reason: "upsert" }, delta: 1 },
    ]);
    expect(changes(metricsBefore, metricsAfter, "credmesh_ingest_requests_total")).toContainEqual<SeriesChange>({
      labels: { endpoint: "eventbridge", status: "503" },
      delta: 1,
    });

    const notReady = await readiness();
    expect(notReady.status).toBe(503);
    expect(notReady.body.ready).toBe(false);
    expect(notReady.body.checks).toMatchObject({ bus: false });
    // Alive: a liveness probe must not restart a process that is waiting for its bus.
    const health = await fetch(`${ingest.url}/healthz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    expect(health.status).toBe(200);
    expect(ingest.process.running).toBe(true);

    await nats.start();
    // Readiness is an external condition with no notification to await: a bounded poll.
    await until("ingest ready again", async () => (await readiness()).status === 200, 30_000, 100);
    expect(await readiness()).toEqual({ status: 200, body: { ready: true, checks: { bus: true, streams: true } } });

    // EventBridge retries the refused event; a new one follows. Both are accepted.
    const retried = await deliver(ingest.url, { body: during, headers });
    expect(retried).toMatchObject({ status: 202, body: { status: "accepted", id: during.id } });
    const after = event("outage/after");
    expect(await deliver(ingest.url, { body: after, headers })).toMatchObject({
      status: 202,
      body: { status: "accepted", id: after.id, duplicate: false },
    });

    // The streams survived the restart, and each event is stored exactly once.
    observer = await nats.connect(undefined, "ingest-outage-test");
    const ids = (await storedMutations(observer)).map((message) => message.header.get("Nats-Msg-Id"));
    expect(ids.filter((id) => id === before.id)).toHaveLength(1);
    expect(ids.filter((id) => id === during.id)).toHaveLength(1);
    expect(ids.filter((id) => id === after.id)).toHaveLength(1);

    // The error and reconnect paths log too; none of those lines may carry a credential.
    for (const secret of [...credentials.apiKeys, credentials.basicPassword]) {
      expect(ingest.process.lines.filter((line) => line.includes(secret))).toEqual([]);
    }
  });
});
