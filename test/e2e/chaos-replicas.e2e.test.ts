import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusTap } from "../support/bus-tap.ts";
import type { ManagedProcess } from "../support/managed-process.ts";
import { startMesh, type Mesh } from "../support/mesh.ts";
import {
  auditRecords,
  deadLetterCount,
  replicaVersions,
  runWorkload,
  waitForAudits,
  waitForDrain,
  type AuditRecord,
  type SecretHistory,
} from "../support/replication-workload.ts";

const SECRETS = 200;
const CHANGES = 5;
const REPLICAS = 3;
/** Mutations a replicator works on at once (CREDMESH_REPLICATOR_CONCURRENCY's default). */
const REPLICA_CONCURRENCY = 8;
/** Share of the events settled when one replicator is killed. */
const KILL_AT = 0.4;

/**
 * Reliability (issue 4, "Must show"): three replicators for destination Azure, 200 secrets with
 * five changes each made in moto and announced interleaved, one replicator killed with SIGKILL
 * midway. Every replica ends at its source's latest version; per secret, the applied records of
 * the audit trail follow the origin versions' creation order; no origin version is written twice.
 */
describe("chaos: three replicators, one killed", () => {
  let mesh: Mesh;
  let tap: BusTap;
  let histories: SecretHistory[];
  let killed: { cell: string; process: ManagedProcess; atSettled: number } | undefined;
  const timings: Record<string, number> = {};
  const secretOf = new Map<string, SecretHistory>();
  const appliedOf = (history: SecretHistory, records: AuditRecord[]) =>
    records.filter((record) => record.decision === "applied" && secretOf.get(record.eventId) === history);
  /** The replica's name, from any audit record of the secret (a crash can leave it without an `applied` one). */
  const replicaOf = (history: SecretHistory, records: AuditRecord[]) =>
    records.find((record) => secretOf.get(record.eventId) === history && record.destination.name !== "")?.destination.name;

  beforeAll(async () => {
    let started = Date.now();
    mesh = await startMesh({
      namePrefixes: ["fleet/"],
      replicas: REPLICAS,
      replicatorEnv: {
        CREDMESH_LOG_LEVEL: "info",
        CREDMESH_REPLICATOR_CONCURRENCY: String(REPLICA_CONCURRENCY),
        // A dead replica's messages come back after the ack wait, its partitions after the pin
        // timeout (default 15 s). A short pin timeout also moves pins away from live replicas that
        // pause pulling under load; CREDMESH_CHAOS_PIN_TIMEOUT_MS=3000 reproduces that case.
        CREDMESH_ACK_WAIT_MS: "10000",
        CREDMESH_PIN_TIMEOUT_MS: process.env.CREDMESH_CHAOS_PIN_TIMEOUT_MS ?? "15000",
      },
    });
    tap = new BusTap(mesh.bus, "credmesh.audit.>");
    timings.meshStartMs = Date.now() - started;

    started = Date.now();
    const total = SECRETS * CHANGES;
    let settled = 0;
    let stopWatching = false;
    // Kill the busiest replicator once KILL_AT of the events have settled.
    const watcher = (async () => {
      while (!stopWatching && !killed) {
        const records = auditRecords(tap);
        settled = new Set(records.map((record) => record.eventId)).size;
        if (settled >= total * KILL_AT) {
          const perCell = new Map<string, number>();
          for (const record of records) perCell.set(record.cell, (perCell.get(record.cell) ?? 0) + 1);
          const [cell] = [...perCell.entries()].sort((a, b) => b[1] - a[1])[0] ?? ["e2e-azure-1"];
          const victim = mesh.replicators[Number(cell.split("-").at(-1)) - 1] ?? mesh.replicators[0];
          if (!victim) throw new Error("no replicator to kill");
          await victim.kill();
          killed = { cell, process: victim, atSettled: settled };
          timings.killAtMs = Date.now() - started;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    histories = await runWorkload(mesh, { prefix: "fleet/", secrets: SECRETS, changes: CHANGES, concurrency: 16 });
    timings.workloadMs = Date.now() - started;
    for (const history of histories) for (const eventId of history.eventIds) secretOf.set(eventId, history);
    await waitForAudits(tap, [...secretOf.keys()], 300_000);
    timings.settledMs = Date.now() - started;
    stopWatching = true;
    await watcher;
    await waitForDrain(mesh.bus, "azure", 120_000);
    timings.drainedMs = Date.now() - started;
  }, 480_000);

  afterAll(async () => {
    const records = tap ? auditRecords(tap) : [];
    const perCell: Record<string, number> = {};
    for (const record of records) perCell[record.cell] = (perCell[record.cell] ?? 0) + 1;
    console.info(
      `chaos-replicas: ${SECRETS}×${CHANGES} on ${REPLICAS} replicators; timings ${JSON.stringify(timings)}; killed ${killed?.cell} at ${killed?.atSettled} settled; ` +
        `audit records ${records.length} ${JSON.stringify(perCell)}`,
    );
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  it("killed one replicator midway, while the others kept running", () => {
    expect(killed).toBeDefined();
    expect(killed?.process.running).toBe(false);
    expect(killed?.atSettled).toBeLessThan(SECRETS * CHANGES * 0.9);
    expect(mesh.replicators.filter((replicator) => replicator.running)).toHaveLength(REPLICAS - 1);
  });

  it("settles every event, without a dead letter", async () => {
    const settledBy = new Map<string, string[]>();
    for (const record of auditRecords(tap)) settledBy.set(record.eventId, [...(settledBy.get(record.eventId) ?? []), record.decision]);
    expect(settledBy.size).toBe(SECRETS * CHANGES);
    const unexpected = [...settledBy.values()].flat().filter((decision) => !["applied", "skipped_duplicate", "skipped_stale"].includes(decision));
    expect(unexpected).toEqual([]);
    expect(await deadLetterCount(mesh.bus)).toBe(0);
  });

  it("leaves every replica at its source's latest value and version", async () => {
    const records = auditRecords(tap);
    const stale: string[] = [];
    for (const history of histories) {
      const name = replicaOf(history, records);
      expect(name, `no audit record names the replica of ${history.name}`).toBeDefined();
      const replica = await mesh.keyVaultClient.getSecret(name ?? "");
      if (replica.value !== history.values.at(-1) || replica.properties.tags?.["credmesh-origin-version"] !== history.versions.at(-1)) {
        stale.push(`${history.name}: holds version ${history.versions.indexOf(replica.properties.tags?.["credmesh-origin-version"] ?? "") + 1} of ${CHANGES}`);
      }
    }
    expect(stale).toEqual([]);
  });

  it("applies each secret's versions in creation order (audit trail)", () => {
    const records = auditRecords(tap);
    const regressions: string[] = [];
    for (const history of histories) {
      const order = appliedOf(history, records).map((record) => history.versions.indexOf(record.originVersion ?? ""));
      expect(order.every((index) => index >= 0)).toBe(true);
      if (order.some((index, position) => position > 0 && index < (order[position - 1] as number))) {
        regressions.push(`${history.name}: applied versions ${order.map((index) => index + 1).join(" → ")}`);
      }
    }
    expect(regressions).toEqual([]);
  });

  it("writes no origin version twice", async () => {
    const records = auditRecords(tap);
    const twice: string[] = [];
    const unaudited: string[] = [];
    for (const history of histories) {
      const applied = appliedOf(history, records);
      const appliedVersions = applied.map((record) => record.originVersion);
      if (new Set(appliedVersions).size !== appliedVersions.length) {
        const described = applied.map(
          (record) => `v${history.versions.indexOf(record.originVersion ?? "") + 1} by ${record.cell} at ${record.at} for event ${history.eventIds.indexOf(record.eventId) + 1}`,
        );
        twice.push(`${history.name}: applied ${described.join(", ")}`);
      }
      const versions = await replicaVersions(mesh, replicaOf(history, records) ?? "");
      const origins = versions.map((version) => version.originVersion);
      if (new Set(origins).size !== origins.length) {
        twice.push(`${history.name}: replica versions carry ${origins.map((origin) => `v${history.versions.indexOf(origin ?? "") + 1}`).join(", ")}`);
      }
      for (const origin of origins) expect(history.versions).toContain(origin);
      // Every applied record is a replica version, and every replica version has one — also a
      // write of the killed replicator that it did not live to audit: the redelivered mutation
      // finds its own write stamp and audits it then.
      for (const version of appliedVersions) expect(origins).toContain(version);
      for (const origin of origins) if (!appliedVersions.includes(origin)) unaudited.push(`${history.name}: ${origin}`);
    }
    if (twice.length > 0) {
      // What each replicator said about those secrets' events: the quickest way to the cause.
      const suspects = histories.filter((history) => twice.some((line) => line.startsWith(`${history.name}:`))).flatMap((history) => history.eventIds);
      for (const [index, replicator] of mesh.replicators.entries()) {
        const lines = replicator.lines.filter((line) => suspects.some((id) => line.includes(id)) || line.includes('"consumer status"'));
        console.error(`--- replicator e2e-azure-${index + 1} (${replicator.running ? "running" : "killed"}) ---\n${lines.join("\n")}`);
      }
    }
    expect(twice).toEqual([]);
    expect(unaudited, "writes without an applied record").toEqual([]);
  });
});
