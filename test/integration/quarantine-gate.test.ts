/**
 * A replicator's quarantine gate fed from a real NATS JetStream KV bucket: a quarantine record
 * closes it within a second of the write, a release opens it, and whenever the state cannot be
 * read — a value that is not a record, a lost connection — it fails closed and /readyz says why.
 */
import { connectBus, openQuarantineBucket, type KV, type NatsConnection } from "@credmesh/bus";
import { cellKey } from "@credmesh/bus-names";
import { encodeQuarantineRecord, type QuarantineRecord } from "@credmesh/events";
import { createLogger } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QuarantineGate } from "../../services/replicator/src/quarantine-gate.ts";
import { watchQuarantine } from "../../services/replicator/src/quarantine-watch.ts";
import { startNats, type NatsPart } from "../support/parts.ts";

const CELL = "gate@cell.1";
const logger = createLogger({ service: "test", level: "error" });

const record = (state: QuarantineRecord["state"], transitionId: string): QuarantineRecord => ({
  cell: CELL,
  state,
  reason: state === "quarantined" ? "integration test" : "released",
  by: "alice",
  at: new Date().toISOString(),
  trigger: { type: "operator" },
  transitionId,
});

describe("quarantine gate over a real KV bucket", () => {
  let nats: NatsPart;
  let nc: NatsConnection;
  let writer: NatsConnection;
  let kv: KV;
  let gate: QuarantineGate;
  let watch: { stop(): Promise<void> };

  beforeAll(async () => {
    nats = await startNats();
    nc = await connectBus({ ...nats.connection(), name: "gate-test" }, logger);
    writer = await connectBus({ ...nats.connection(), name: "gate-test-writer" }, logger);
    gate = new QuarantineGate(CELL, { metrics: createMetrics(new Registry(), { defaultMetrics: false }) });
    watch = await watchQuarantine(nc, await openQuarantineBucket(nc, 1), gate, logger, { recheckMs: 500 });
    kv = await openQuarantineBucket(writer, 1);
  });
  afterAll(async () => {
    await watch?.stop();
    await Promise.allSettled([nc?.close(), writer?.close()]);
    await nats?.stop();
  });

  it("is open for a cell that was never quarantined", () => {
    expect(gate.view.state).toBe("open");
  });

  it("closes within a second of the quarantine record, and opens on the release", async () => {
    const started = Date.now();
    await kv.put(cellKey(CELL), encodeQuarantineRecord(record("quarantined", "q1")));
    await expect.poll(() => gate.view.state, { timeout: 5_000, interval: 5 }).toBe("quarantined");
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(gate.readiness()).toEqual({ ok: false, detail: expect.stringContaining("quarantined since") as string });
    await kv.put(cellKey(CELL), encodeQuarantineRecord(record("active", "r1")));
    await expect.poll(() => gate.view.state, { timeout: 5_000, interval: 5 }).toBe("open");
  });

  it("fails closed on a value that is not a valid record", async () => {
    await kv.put(cellKey(CELL), new TextEncoder().encode(JSON.stringify({ cell: CELL, state: "maybe" })));
    await expect.poll(() => gate.view, { timeout: 5_000 }).toEqual({ state: "unknown", why: "the quarantine record is not valid" });
    await kv.put(cellKey(CELL), encodeQuarantineRecord(record("active", "r2")));
    await expect.poll(() => gate.view.state, { timeout: 5_000 }).toBe("open");
  });

  it("fails closed when the bus is lost", async () => {
    await nats.stop();
    await expect.poll(() => gate.view.state, { timeout: 15_000 }).toBe("unknown");
    expect(gate.readiness().detail).toMatch(/unknown \(failing closed\)/);
    await expect(gate.hold(async () => "work", AbortSignal.timeout(200))).rejects.toMatchObject({ reason: "quarantined", code: "QuarantineStateUnknown" });
  });
});
