import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { createLogger } from "@credmesh/logging";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvRunCoordinator, LOCK_TTL_MS, RECONCILE_LOCK_BUCKET, RECONCILE_RUNS_BUCKET } from "../../services/replicator/src/reconcile/lock.ts";
import { startNats, type NatsPart } from "../support/parts.ts";

/**
 * The coordination of reconcile runs between replicas, against a real nats-server: the KV lock
 * admits one run per destination at a time, survives its holder's renewals, and expires when its
 * holder dies; the runs bucket remembers the last run for the periodic schedule.
 */
describe("reconcile coordination in JetStream KV", () => {
  let nats: NatsPart;
  const connections: NatsConnection[] = [];
  const stops: Array<() => Promise<void>> = [];
  const logger = createLogger({ service: "test", level: "silent" });
  const open = async (server: NatsPart = nats): Promise<NatsConnection> => {
    const nc = await server.connect(undefined, `reconcile-lock-test-${connections.length}`);
    connections.push(nc);
    return nc;
  };

  beforeAll(async () => {
    nats = await startNats();
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await Promise.allSettled([nats?.stop(), ...stops.map((stop) => stop())]);
  });

  it("admits one holder per destination, tells the others who holds it, and frees it on release", async () => {
    const [a, b] = await Promise.all([open(), open()]);
    const one = await KvRunCoordinator.open(a, "azure", { replicas: 1, logger });
    const two = await KvRunCoordinator.open(b, "azure", { replicas: 1, logger });
    const otherDestination = await KvRunCoordinator.open(b, "aws", { replicas: 1, logger });

    const first = await one.acquire({ cell: "cell-a", runId: "run-1", since: "2026-11-22T10:00:00Z" });
    expect("lease" in first).toBe(true);
    expect(await two.acquire({ cell: "cell-b", runId: "run-2", since: "2026-11-22T10:00:01Z" })).toEqual({
      heldBy: { cell: "cell-a", runId: "run-1", since: "2026-11-22T10:00:00Z" },
    });
    const aws = await otherDestination.acquire({ cell: "cell-b", runId: "run-3", since: "x" });
    expect("lease" in aws).toBe(true);

    if ("lease" in first) await first.lease.release();
    const second = await two.acquire({ cell: "cell-b", runId: "run-2", since: "2026-11-22T10:00:02Z" });
    expect("lease" in second).toBe(true);
    if ("lease" in second) await second.lease.release();
    if ("lease" in aws) await aws.lease.release();

    const status = await (await new Kvm(a).open(RECONCILE_LOCK_BUCKET)).status();
    expect(status.ttl).toBe(LOCK_TTL_MS);
  });

  it("keeps the lock while its holder renews it, and lets it expire when the holder dies", async () => {
    // A server of its own, so the lock bucket is created with a short TTL (3 s instead of 30 s).
    const ttlMs = 3_000;
    const server = await startNats();
    stops.push(() => server.stop());
    const [dying, survivor] = await Promise.all([open(server), open(server)]);
    const holder = await KvRunCoordinator.open(dying, "aws", { replicas: 1, logger, lockTtlMs: ttlMs });
    const other = await KvRunCoordinator.open(survivor, "aws", { replicas: 1, logger, lockTtlMs: ttlMs });
    const held = await holder.acquire({ cell: "cell-dying", runId: "run-x", since: "t" });
    expect("lease" in held).toBe(true);

    // Past two TTLs, renewals kept it.
    await new Promise((resolve) => setTimeout(resolve, 2 * ttlMs + 500));
    expect(await other.acquire({ cell: "cell-survivor", runId: "run-y", since: "t" })).toMatchObject({ heldBy: { cell: "cell-dying" } });
    if ("lease" in held) expect(held.lease.lost.aborted).toBe(false);

    // The holder's process dies: no release, no more renewals. Within a TTL the lock is free.
    await dying.close();
    const started = Date.now();
    const deadline = started + ttlMs + 10_000;
    let acquired = await other.acquire({ cell: "cell-survivor", runId: "run-y", since: "t" });
    while (!("lease" in acquired) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      acquired = await other.acquire({ cell: "cell-survivor", runId: "run-y", since: "t" });
    }
    expect("lease" in acquired).toBe(true);
    expect(Date.now() - started).toBeLessThan(ttlMs + 2_000);
    if ("lease" in acquired) {
      expect(acquired.lease.lost.aborted).toBe(false);
      await acquired.lease.release();
    }
  }, 60_000);

  it("remembers the last run per destination, and records a baseline only once", async () => {
    const nc = await open();
    const coordinator = await KvRunCoordinator.open(nc, "azure", { replicas: 1, logger });
    await coordinator.baseline({ kind: "baseline", at: "2026-11-22T10:00:00.000Z", cell: "cell-a" });
    await coordinator.baseline({ kind: "baseline", at: "2026-11-22T11:00:00.000Z", cell: "cell-b" });
    expect(await coordinator.lastRun()).toEqual({ kind: "baseline", at: "2026-11-22T10:00:00.000Z", cell: "cell-a" });
    await coordinator.recordRun({ kind: "run", at: "2026-11-22T12:00:00.000Z", cell: "cell-b", runId: "r", trigger: "schedule", counts: { sync: 1 } });
    expect(await coordinator.lastRun()).toMatchObject({ kind: "run", runId: "r", counts: { sync: 1 } });
    const streams = await (await jetstreamManager(nc)).streams.names().next();
    expect(streams).toEqual(expect.arrayContaining([`KV_${RECONCILE_LOCK_BUCKET}`, `KV_${RECONCILE_RUNS_BUCKET}`]));
  });
});
