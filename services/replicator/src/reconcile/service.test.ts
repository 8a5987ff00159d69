import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { NatsConnection } from "@credmesh/bus";
import { createLogger } from "@credmesh/logging";
import type { Acquired, LockHolder, RunCoordinator, RunRecord } from "./lock.ts";
import type { RunOptions } from "./reconciler.ts";
import { emptyCounts, type ReconcileReport } from "./report.ts";
import { ReconcileService, parseRequest } from "./service.ts";

const logger = createLogger({ service: "test", level: "silent" });

/** The KV coordination's semantics in memory: one lock, the last run. */
class MemoryCoordinator implements RunCoordinator {
  holder: LockHolder | undefined;
  last: RunRecord | undefined;
  async acquire(holder: LockHolder): Promise<Acquired> {
    if (this.holder) return { heldBy: this.holder };
    this.holder = holder;
    return { lease: { lost: new AbortController().signal, release: async () => void (this.holder = undefined) } };
  }
  async lastRun() {
    return this.last;
  }
  async recordRun(record: RunRecord) {
    this.last = record;
  }
  async baseline(record: RunRecord) {
    this.last ??= record;
  }
}

const nc = { subscribe: () => ({ drain: async () => undefined }) } as unknown as NatsConnection;

function service(coordinator: RunCoordinator, intervalSeconds: number, cell = "cell-1") {
  const runs: RunOptions[] = [];
  const reconciler = {
    async run(options: RunOptions): Promise<ReconcileReport> {
      runs.push(options);
      const at = new Date().toISOString();
      return { runId: `run-${runs.length}`, destination: "azure", cell, dryRun: options.dryRun, trigger: options.trigger, startedAt: at, finishedAt: at, durationMs: 0, counts: emptyCounts(), actions: [], errors: [] };
    },
  };
  return { runs, service: new ReconcileService({ nc, destination: "azure", cell, reconciler, coordinator, intervalSeconds, logger, random: () => 0.5 }) };
}

describe("parseRequest", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  it.each([
    ["", {}],
    ["{}", {}],
    ['{"dryRun": true}', { dryRun: true }],
    ['{"dryRun": false}', { dryRun: false }],
  ])("accepts %j", (text, expected) => {
    expect(parseRequest(bytes(text))).toEqual(expected);
  });

  it.each(["not json", "[]", '{"dryRun": "yes"}', '{"dryrun": true}'])("refuses %j with a bad_request reply", (text) => {
    expect(parseRequest(bytes(text))).toMatchObject({ error: { code: "bad_request" } });
  });
});

describe("ReconcileService", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date("2026-11-22T10:00:00Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("answers busy while another replica holds the lock, and runs once it is free", async () => {
    const coordinator = new MemoryCoordinator();
    const { service: one, runs } = service(coordinator, 0);
    coordinator.holder = { cell: "cell-2", runId: "r", since: "2026-11-22T09:59:00Z" };
    expect(await one.runOnce({})).toEqual({ error: { code: "busy", message: expect.stringContaining("cell cell-2") } });
    expect(runs).toEqual([]);
    coordinator.holder = undefined;
    expect(await one.runOnce({})).toMatchObject({ runId: "run-1", trigger: "request" });
    expect(coordinator.holder).toBeUndefined();
    expect(coordinator.last).toMatchObject({ kind: "run", runId: "run-1", cell: "cell-1" });
  });

  it("runs a dry run without the lock and without recording it", async () => {
    const coordinator = new MemoryCoordinator();
    coordinator.holder = { cell: "cell-2", runId: "r", since: "x" };
    const { service: one, runs } = service(coordinator, 0);
    expect(await one.runOnce({ dryRun: true })).toMatchObject({ dryRun: true });
    expect(runs).toMatchObject([{ dryRun: true }]);
    expect(coordinator.last).toBeUndefined();
  });

  it("runs periodically once per interval across replicas, the first run one interval after the first boot", async () => {
    const coordinator = new MemoryCoordinator();
    const a = service(coordinator, 600, "cell-a");
    const b = service(coordinator, 600, "cell-b");
    await a.service.start();
    await b.service.start();
    expect(coordinator.last).toMatchObject({ kind: "baseline" });
    await vi.advanceTimersByTimeAsync(9 * 60_000);
    expect(a.runs.length + b.runs.length).toBe(0);
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    expect(a.runs.length + b.runs.length).toBe(1);
    await vi.advanceTimersByTimeAsync(8 * 60_000);
    expect(a.runs.length + b.runs.length).toBe(1);
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    expect(a.runs.length + b.runs.length).toBe(2);
    expect([...a.runs, ...b.runs].every((run) => run.trigger === "schedule" && !run.dryRun)).toBe(true);
    await a.service.stop();
    await b.service.stop();
    await vi.advanceTimersByTimeAsync(30 * 60_000);
    expect(a.runs.length + b.runs.length).toBe(2);
  });

  it("does not schedule anything with interval 0", async () => {
    const coordinator = new MemoryCoordinator();
    const { service: one, runs } = service(coordinator, 0);
    await one.start();
    await vi.advanceTimersByTimeAsync(24 * 3_600_000);
    expect(runs).toEqual([]);
    expect(coordinator.last).toBeUndefined();
    await one.stop();
  });
});
