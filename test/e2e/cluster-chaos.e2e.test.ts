/**
 * Chaos in the spirit of Jepsen, on loopback and bounded in time (SPEC §7, issue 12 items 3 and 4):
 * the whole mesh on a 3-node JetStream cluster (streams and buckets R3), two ingest replicas behind
 * a sender front that retries as EventBridge and Event Grid do, two replicators per destination,
 * steady mutations in both directions — and, one after another, the faults production meets:
 * SIGKILL of the mutation stream's leader, a node frozen (SIGSTOP) longer than the election
 * timeout, a node restart, an ingest SIGKILL, a replicator SIGKILL (one per destination). Once
 * with nats-server's default fsync, once with `sync_interval: always`.
 *
 * The checker (test/support/chaos/checker.ts) reads what the cluster kept — the audit trail and the
 * mutation stream read back from the streams, every replica's versions from the vaults — and
 * requires: every acknowledged event applied or provably superseded, none lost (prefix, middle and
 * postfix counted apart), no origin version written twice, every replica equal to its source.
 * Measured per fault: the publish-unavailable window the senders saw and the time until stream
 * info reports a new leader. Results: test/results/cluster-chaos.json and a printed table.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { STREAMS } from "@credmesh/bus-names";
import { afterAll, describe, expect, it } from "vitest";
import { checkChaos, type PhaseCounts } from "../support/chaos/checker.ts";
import { auditTrail, mutationIds, replicaHistories } from "../support/chaos/facts.ts";
import { SenderFront } from "../support/chaos/sender-front.ts";
import { ChaosWorkload } from "../support/chaos/workload.ts";
import { startMesh, type Mesh } from "../support/mesh.ts";
import { streamLeader } from "../support/nats-cluster.ts";
import { deadLetterCount, waitForDrain } from "../support/replication-workload.ts";
import { REPO_ROOT } from "../support/services.ts";

const VAULT = "credmesh-chaos";
const STEADY_MS = 2_000;
/** Longer than nats-server's election timeout (4–9 s): the frozen node comes back deposed. */
const PAUSE_MS = 10_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface FaultResult extends PhaseCounts {
  fsync: string;
  fault: string;
  /** Longest time the senders got no acknowledgement during the phase (ms). */
  unavailableMs: number;
  /** Sender attempts answered 5xx, refused or timed out. */
  failedAttempts: number;
  /** From the fault to a new mutation stream leader in stream info (ms); undefined when no node failed. */
  electionMs: number | undefined;
  durationMs: number;
}

const results: FaultResult[] = [];
const runs: Array<{ fsync: string; wallMs: number; meshStartMs: number; drainMs: number }> = [];

afterAll(() => {
  if (results.length === 0) return;
  const dir = join(REPO_ROOT, "test", "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cluster-chaos.json"), `${JSON.stringify({ at: new Date().toISOString(), runs, results }, null, 2)}\n`);
  const rows = results.map((row) =>
    [
      row.fsync,
      row.fault,
      row.acknowledged,
      row.applied,
      `${row.lost} (${row.lostPrefix}/${row.lostMiddle}/${row.lostPostfix})`,
      row.duplicatedWrites,
      `${(row.unavailableMs / 1000).toFixed(1)} s`,
      row.electionMs === undefined ? "—" : `${(row.electionMs / 1000).toFixed(1)} s`,
    ].join(" | "),
  );
  console.info(
    ["| fsync | fault | acknowledged | applied | lost (prefix/middle/postfix) | duplicated writes | publish-unavailable window | leader election |", "|---|---|---:|---:|---:|---:|---:|---:|", ...rows.map((row) => `| ${row} |`)].join(
      "\n",
    ),
  );
});

describe.each(["default", "always"] as const)("chaos on a 3-node JetStream cluster, sync_interval %s", (fsync) => {
  it(
    "loses no acknowledged mutation and writes none twice through leader kills, a frozen node, a node restart, an ingest and a replicator SIGKILL",
    async () => {
      const wallStarted = Date.now();
      const replicatorEnv = {
        CREDMESH_LOG_LEVEL: "info",
        // Failures are noticed in seconds, so the run stays short: a dead replica's partitions move
        // after 3 s, its leases expire after 6 s, its unacknowledged messages return after 10 s.
        CREDMESH_PIN_TIMEOUT_MS: "3000",
        CREDMESH_SECRET_LEASE_MS: "6000",
        CREDMESH_ACK_WAIT_MS: "10000",
        CREDMESH_MUTATION_DEADLINE_MS: "4000",
        // Anti-entropy would publish corrections of its own: the checker follows the events alone.
        CREDMESH_RECONCILE_INTERVAL_SECONDS: "0",
      };
      const eventGridKey = randomBytes(24).toString("base64url");
      const mesh: Mesh = await startMesh({
        cluster: { syncInterval: fsync },
        ingests: 2,
        replicas: 2,
        awsReplicas: 2,
        namePrefixes: ["chaosa/"],
        azureToAws: { vaultName: VAULT, namePrefixes: ["chaosz-"] },
        ingestEnv: { CREDMESH_LOG_LEVEL: "info", CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS: eventGridKey },
        replicatorEnv,
        replicatorAwsEnv: replicatorEnv,
      });
      const meshStartMs = Date.now() - wallStarted;
      const cluster = mesh.cluster;
      if (!cluster) throw new Error("the mesh runs without a cluster");
      try {
        const fronts = {
          eventBridge: new SenderFront({
            urls: mesh.ingestUrls,
            path: "/webhooks/eventbridge",
            headers: { "content-type": "application/json; charset=utf-8", "user-agent": "Amazon/EventBridge/ApiDestinations", [mesh.apiKeyHeader]: mesh.apiKey },
            timeoutMs: 5_000,
          }),
          eventGrid: new SenderFront({
            urls: mesh.ingestUrls,
            path: "/webhooks/eventgrid",
            headers: { "content-type": "application/json", "aeg-event-type": "Notification", authorization: eventGridKey },
            timeoutMs: 30_000,
          }),
        };
        const workload = new ChaosWorkload(mesh, { secrets: 30, writers: 2, paceMs: 150, awsPrefix: "chaosa/", azurePrefix: "chaosz-", vaultName: VAULT, fronts });

        /** Waits for a new mutation stream leader after `since`; the time it took (ms). */
        const election = async (previous: string, since: number): Promise<number> => {
          for (;;) {
            const leader = await streamLeader(mesh.bus, STREAMS.mutations.name, 500);
            if (leader && leader !== previous) return Date.now() - since;
            if (Date.now() - since > 60_000) throw new Error("no new mutation stream leader within 60 s");
            await sleep(50);
          }
        };
        const currentLeader = async (): Promise<string> => {
          const leader = await streamLeader(mesh.bus, STREAMS.mutations.name, 2_000);
          if (!leader) throw new Error("the mutation stream has no leader");
          return leader;
        };
        const faults: Array<{ fault: string; inject: () => Promise<number | undefined> }> = [
          {
            fault: "SIGKILL of the stream leader",
            inject: async () => {
              const leader = await currentLeader();
              const since = Date.now();
              await cluster.kill(leader);
              const electionMs = await election(leader, since);
              await sleep(STEADY_MS);
              await cluster.restart(leader);
              return electionMs;
            },
          },
          {
            fault: `SIGSTOP of the stream leader for ${PAUSE_MS / 1000} s`,
            inject: async () => {
              const leader = await currentLeader();
              const since = Date.now();
              cluster.pause(leader);
              const electionMs = await election(leader, since);
              await sleep(Math.max(0, PAUSE_MS - (Date.now() - since)));
              cluster.resume(leader);
              return electionMs;
            },
          },
          {
            fault: "restart of the stream leader's node",
            inject: async () => {
              const leader = await currentLeader();
              const since = Date.now();
              await cluster.stopNode(leader);
              const electionMs = await election(leader, since);
              await cluster.restart(leader);
              return electionMs;
            },
          },
          {
            fault: "SIGKILL of an ingest (of two)",
            inject: async () => {
              const victim = mesh.ingests[0];
              if (!victim) throw new Error("no ingest");
              await victim.kill();
              await sleep(STEADY_MS);
              await mesh.restart(victim);
              return undefined;
            },
          },
          {
            fault: "SIGKILL of a replicator (of two, per destination)",
            inject: async () => {
              const victims = [mesh.replicators[0], mesh.replicatorsAws[0]].filter((victim) => victim !== undefined);
              await Promise.all(victims.map((victim) => victim.kill()));
              await sleep(2 * STEADY_MS);
              await Promise.all(victims.map((victim) => mesh.restart(victim)));
              return undefined;
            },
          },
        ];

        workload.start();
        await sleep(STEADY_MS);
        const phases: Array<{ fault: string; from: number; to: number; electionMs: number | undefined }> = [];
        for (const { fault, inject } of faults) {
          workload.phase = fault;
          const from = Date.now();
          await sleep(STEADY_MS);
          const electionMs = await inject();
          await cluster.waitHealthy();
          await sleep(STEADY_MS);
          phases.push({ fault, from, to: Date.now(), electionMs });
        }
        workload.phase = "cool-down";
        await sleep(STEADY_MS);
        await workload.stop();

        const drainStarted = Date.now();
        await waitForDrain(mesh.bus, "azure", 180_000);
        await waitForDrain(mesh.bus, "aws", 180_000);
        const drainMs = Date.now() - drainStarted;

        const audits = await auditTrail(mesh.bus);
        const verdict = checkChaos({
          events: workload.events,
          audits,
          streamIds: await mutationIds(mesh.bus),
          replicaVersions: await replicaHistories(mesh, workload.secrets, audits),
        });
        for (const phase of phases) {
          const counts = verdict.phases[phase.fault];
          if (!counts) throw new Error(`no events in phase ${phase.fault}`);
          results.push({
            fsync,
            fault: phase.fault,
            ...counts,
            unavailableMs: Math.max(fronts.eventBridge.unavailableWindowMs(phase.from, phase.to), fronts.eventGrid.unavailableWindowMs(phase.from, phase.to)),
            failedAttempts: fronts.eventBridge.failedAttempts(phase.from, phase.to) + fronts.eventGrid.failedAttempts(phase.from, phase.to),
            electionMs: phase.electionMs,
            durationMs: phase.to - phase.from,
          });
        }
        runs.push({ fsync, wallMs: Date.now() - wallStarted, meshStartMs, drainMs });
        console.info(`cluster-chaos (${fsync}): ${JSON.stringify(verdict.phases.total)}; wall ${Date.now() - wallStarted} ms, mesh start ${meshStartMs} ms, drain ${drainMs} ms`);

        const total = verdict.phases.total as PhaseCounts;
        if (verdict.unexplained.length > 0 || verdict.duplicates.length > 0) {
          // What the services said about each event in question (log lines carry no secret values).
          const ids = [...verdict.unexplained, ...verdict.duplicates].flatMap((line) => [...line.matchAll(/event ([0-9a-f-]{36})/g)].map((match) => match[1] ?? ""));
          for (const process of [...mesh.ingests, ...mesh.replicators, ...mesh.replicatorsAws]) {
            for (const line of process.lines) if (ids.some((id) => line.includes(id))) console.info(`${process.name}: ${line}`);
          }
        }
        expect(verdict.unexplained, "acknowledged events neither applied nor superseded").toEqual([]);
        expect(verdict.duplicates, "origin versions written twice").toEqual([]);
        expect(total.unacknowledged, "deliveries the senders gave up on").toBe(0);
        expect(total.lost).toBe(0);
        expect(total.applied).toBe(total.acknowledged);
        expect(total.acknowledged).toBeGreaterThan(200);
        expect(await deadLetterCount(mesh.bus)).toBe(0);

        // Every replica equal to its source: the value written last in the source cloud.
        const stale: string[] = [];
        const replicaName = new Map(audits.filter((record) => record.destination.name !== "").map((record) => [`${record.origin.cloud}/${record.origin.secretName}`, record.destination.name]));
        for (const secret of workload.secrets) {
          if (secret.values.length === 0) continue;
          const name = replicaName.get(`${secret.direction === "aws-to-azure" ? "aws" : "azure"}/${secret.name}`) ?? "";
          const value =
            secret.direction === "aws-to-azure"
              ? (await mesh.keyVaultClient.getSecret(name)).value
              : (await mesh.secretsManager.send(new GetSecretValueCommand({ SecretId: name }))).SecretString;
          if (value !== secret.values.at(-1)) stale.push(`${secret.name} → ${name}: not at its latest value (v${secret.values.length})`);
        }
        expect(stale).toEqual([]);
      } finally {
        await mesh.stop();
      }
    },
    600_000,
  );
});
