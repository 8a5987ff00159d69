import { describe, expect, it } from "vitest";
import type { KV, KvEntry, NatsConnection } from "@credmesh/bus";
import { cellKey } from "@credmesh/bus-names";
import { encodeQuarantineRecord, type QuarantineRecord } from "@credmesh/events";
import { createLogger } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import { QuarantineGate } from "./quarantine-gate.ts";
import { watchQuarantine } from "./quarantine-watch.ts";

const CELL = "cell-1";
const logger = createLogger({ service: "test", level: "silent" });

const record = (state: QuarantineRecord["state"], transitionId: string): QuarantineRecord => ({
  cell: CELL,
  state,
  reason: state === "quarantined" ? "key leaked" : "rotated",
  by: "alice",
  at: "2026-02-01T00:00:00.000Z",
  trigger: { type: "operator" },
  transitionId,
});

const entry = (revision: number, value: QuarantineRecord): KvEntry =>
  ({ bucket: "credmesh-quarantine", key: cellKey(CELL), revision, operation: "PUT", value: encodeQuarantineRecord(value), created: new Date(), delta: 0, length: 0, string: () => "", json: () => value }) as unknown as KvEntry;

/**
 * A bucket whose reads are answered by a replica that is behind (what a KV "direct get" on a
 * cluster may return), and whose watch follows the stream's own order. Pure logic: the gate's
 * decisions from what the two report.
 */
function laggingBucket(initial: KvEntry) {
  let read: KvEntry | null = initial;
  const pushes: Array<(value: IteratorResult<KvEntry>) => void> = [];
  const queued: KvEntry[] = [initial];
  const kv = {
    get: () => Promise.resolve(read),
    watch: () =>
      Promise.resolve({
        stop() {
          for (const push of pushes.splice(0)) push({ value: undefined, done: true });
        },
        [Symbol.asyncIterator]: () => ({
          next: () => {
            const next = queued.shift();
            if (next) return Promise.resolve({ value: next, done: false });
            return new Promise<IteratorResult<KvEntry>>((resolve) => pushes.push(resolve));
          },
        }),
      }),
  } as unknown as KV;
  return {
    kv,
    /** The stream gets a new write: the watch sees it. */
    write(next: KvEntry) {
      const push = pushes.shift();
      if (push) push({ value: next, done: false });
      else queued.push(next);
    },
    /** What a read returns from now on. */
    readsAs(next: KvEntry | null) {
      read = next;
    },
  };
}

const quietConnection = { status: () => ({ [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => undefined) }) }) } as unknown as NatsConnection;

describe("watchQuarantine", () => {
  it("never lets a read from a replica that is behind reopen a gate the watch closed", async () => {
    const bucket = laggingBucket(entry(1, record("active", "r0")));
    const gate = new QuarantineGate(CELL, { metrics: createMetrics(new Registry(), { defaultMetrics: false }) });
    const watch = await watchQuarantine(quietConnection, bucket.kv, gate, logger, { recheckMs: 20 });
    await expect.poll(() => gate.view.state).toBe("open");

    bucket.write(entry(2, record("quarantined", "q1")));
    await expect.poll(() => gate.view.state).toBe("quarantined");
    // Reads keep answering revision 1 (active) for a while: many rechecks pass, the gate stays closed.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(gate.view.state).toBe("quarantined");
    // ... and a read that has no entry at all (a replica that has not seen the key) changes nothing either.
    bucket.readsAs(null);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(gate.view.state).toBe("quarantined");

    // The release is followed, from the watch or from a read that is up to date.
    bucket.readsAs(entry(3, record("active", "r1")));
    await expect.poll(() => gate.view.state).toBe("open");
    await watch.stop();
  });

  it("reads again soon after a failed read instead of staying closed until the next recheck", async () => {
    // The first read fails (a bucket just created on a cluster, a replica not yet answering direct
    // gets); the watch has nothing to say (the key was never written).
    let reads = 0;
    let endWatch: (value: IteratorResult<KvEntry>) => void = () => undefined;
    const kv = {
      get: () => (++reads === 1 ? Promise.reject(new Error("no responders")) : Promise.resolve(null)),
      watch: () =>
        Promise.resolve({
          stop: () => endWatch({ value: undefined, done: true }),
          [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<KvEntry>>((resolve) => (endWatch = resolve)) }),
        }),
    } as unknown as KV;
    const gate = new QuarantineGate(CELL, { metrics: createMetrics(new Registry(), { defaultMetrics: false }) });
    const watch = await watchQuarantine(quietConnection, kv, gate, logger, { recheckMs: 600_000 });
    expect(gate.view.state).toBe("unknown");
    await expect.poll(() => gate.view.state, { timeout: 30_000 }).toBe("open");
    expect(reads).toBe(2);
    await watch.stop();
  });
});
