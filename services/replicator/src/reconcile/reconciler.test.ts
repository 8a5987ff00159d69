import { describe, expect, it, vi } from "vitest";
import type { PublishResult } from "@credmesh/bus";
import { isAwsToAzure, parseRules, type RuleSet } from "@credmesh/config";
import { RetryBudget } from "@credmesh/errors";
import { decodeAuditRecord, type AuditRecord, type MutationEvent } from "@credmesh/events";
import { createLogger, sensitive } from "@credmesh/logging";
import { createMetrics, Registry } from "@credmesh/metrics";
import { MemoryVault, type VaultPort } from "@credmesh/vault";
import { applyMutation, type Outcome } from "../converge/apply.ts";
import type { Proof, ProvedVersionStore, StoredProof } from "./proved-versions.ts";
import { Reconciler } from "./reconciler.ts";
import type { ReconcileReport } from "./report.ts";

/**
 * The reconciler over in-memory vaults, with the replicator's real converge path applying what it
 * publishes: each case shows a difference the events missed, the corrective mutation a run
 * publishes for it, the replica converging once the replicator applies it, and the next run
 * finding nothing to do.
 */
const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const VAULT_URL = "https://payments-kv.vault.azure.net";
const logger = createLogger({ service: "test", level: "silent" });
const ctx = { logger };

const FORWARD = `
  - id: aws-to-azure
    source: { cloud: aws, accounts: ["${ACCOUNT}"], regions: [${REGION}], namePrefixes: ["prod/", "prod-"] }
    destination: { cloud: azure, vaultUrl: ${VAULT_URL} }`;
const BACK = `
  - id: azure-to-aws
    source: { cloud: azure, vaults: [payments-kv], namePrefixes: ["app-", "prod-"] }
    destination: { cloud: aws, account: "${ACCOUNT}", region: ${REGION} }`;

function harness(rulesYaml: string, options: { maxDeletes?: number; provedVersions?: ProvedVersionStore; auditFails?: boolean } = {}) {
  const rules: RuleSet = parseRules(`rules:${rulesYaml}`);
  const aws = new MemoryVault("aws", { arn: { account: ACCOUNT, region: REGION } });
  const kv = new MemoryVault("azure");
  const vaults = {
    sourceFor: (origin: { cloud: "aws" | "azure" }) => (origin.cloud === "aws" ? aws : kv),
    destinationFor: (rule: RuleSet[number]) => (isAwsToAzure(rule) ? kv : aws),
  };
  const published: MutationEvent[] = [];
  const audits: AuditRecord[] = [];
  const ids = new Set<string>();
  const publisher = {
    async publishMutation(event: MutationEvent): Promise<PublishResult> {
      const duplicate = ids.has(event.id);
      ids.add(event.id);
      if (!duplicate) published.push(event);
      return { subject: "s", stream: "CREDMESH_MUTATIONS", seq: published.length, duplicate };
    },
    async publishRecord(_stream: string, _subject: string, record: unknown): Promise<PublishResult> {
      if (options.auditFails) throw new Error("audit stream unavailable");
      // What the bus would carry, read back as every consumer reads it.
      audits.push(decodeAuditRecord(new TextEncoder().encode(JSON.stringify(record))));
      return { subject: "a", stream: "CREDMESH_AUDIT", seq: audits.length, duplicate: false };
    },
  };
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  // One reconciler per destination, as in a replicator process: what a run learned carries to the next.
  const reconcilers = new Map<"aws" | "azure", Reconciler>();
  const reconcilerFor = (destination: "aws" | "azure"): Reconciler => {
    const existing = reconcilers.get(destination);
    if (existing) return existing;
    const created = new Reconciler({
      destination,
      cell: `test-${destination}`,
      rules,
      vaults,
      vaultUrlOf: (vault) => `https://${vault}.vault.azure.net`,
      publisher,
      metrics,
      budget: new RetryBudget(),
      maxDeletes: options.maxDeletes ?? 100,
      awsAccount: ACCOUNT,
      ...(options.provedVersions ? { provedVersions: options.provedVersions } : {}),
      logger,
    });
    reconcilers.set(destination, created);
    return created;
  };
  const converge = {
    rules,
    ...vaults,
    vaultUrlOf: (vault: string) => `https://${vault}.vault.azure.net`,
    contentHashKey: sensitive("k".repeat(32)),
    budget: new RetryBudget(),
    ownSessionPrefix: "credmesh-",
  };
  let applied = 0;
  return {
    aws: aws as VaultPort,
    kv: kv as VaultPort,
    kvWrites: kv.writes,
    /** Key Vault version-list reads so far. */
    kvVersionReads: () => kv.calls.versions ?? 0,
    published,
    audits,
    metrics,
    reconcile: (destination: "aws" | "azure" = "azure", dryRun = false) => reconcilerFor(destination).run({ dryRun, trigger: "request" }),
    /** A new replicator process for `destination`: what its reconciler kept in memory is gone. */
    restart: (destination: "aws" | "azure") => reconcilers.delete(destination),
    /** Applies every mutation published since the last call, as the replicator would. */
    async apply(): Promise<Outcome[]> {
      const outcomes: Outcome[] = [];
      for (const event of published.slice(applied)) outcomes.push(await applyMutation(event, converge, { logger }));
      applied = published.length;
      return outcomes;
    },
  };
}

/** The proved versions store, in memory (the bus bucket is proved in test/e2e/reconcile-bidirectional.e2e.test.ts). */
class MapStore implements ProvedVersionStore {
  readonly ttlMs = 14 * 24 * 3_600_000;
  readonly proofs = new Map<string, StoredProof>();
  puts = 0;
  failing = false;

  async get(source: string): Promise<StoredProof | undefined> {
    if (this.failing) throw new Error("bus unavailable");
    return this.proofs.get(source);
  }

  async put(source: string, proof: Proof): Promise<void> {
    if (this.failing) throw new Error("bus unavailable");
    this.puts++;
    this.proofs.set(source, { ...proof, storedAt: Date.now() });
  }
}

const findings = (report: ReconcileReport) => report.actions.map(({ action, reason, status }) => ({ action, reason, status }));

describe("Reconciler (AWS → Azure) over in-memory vaults", () => {
  it("publishes a sync for a secret whose events were lost, and nothing once the replicator applied it", async () => {
    const h = harness(FORWARD);
    const { versionId } = await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    const report = await h.reconcile();
    expect(findings(report)).toEqual([{ action: "sync", reason: "missing", status: "published" }]);
    expect(report.counts).toMatchObject({ sync: 1, delete: 0, orphan: 0, conflict: 0, errors: 0 });
    expect(report.actions[0]).toMatchObject({
      rule: "aws-to-azure",
      source: { cloud: "aws", account: ACCOUNT, region: REGION, name: "prod/db", versionId },
      destination: { vault: VAULT_URL },
    });
    const [event] = h.published;
    expect(event?.data).toMatchObject({
      kind: "sync",
      rule: "aws-to-azure",
      destination: { cloud: "azure" },
      origin: { cloud: "aws", account: ACCOUNT, region: REGION, secretName: "prod/db", versionId },
      trigger: { source: "reconciler", eventName: "Reconcile" },
    });
    expect(event?.id).toBe(`reconcile:azure:aws/${ACCOUNT}/${REGION}/prod/db:${versionId}:missing`);
    expect(event?.subject).toBe(`aws/${ACCOUNT}/${REGION}/prod/db`);
    expect(h.audits).toMatchObject([{ decision: "reconciled", eventId: event?.id, kind: "sync", reason: "missing", runId: report.runId }]);

    expect((await h.apply()).map((outcome) => outcome.decision)).toEqual(["applied"]);
    const name = report.actions[0]?.destination.name ?? "";
    expect((await h.kv.get(name, ctx))?.value.reveal()).toBe("pw-1");

    const again = await h.reconcile();
    expect(again.actions).toEqual([]);
    expect(again.counts).toMatchObject({ sync: 0, delete: 0, unchanged: 1, errors: 0 });
  });

  it("publishes a sync for a replica behind its source's current version", async () => {
    const h = harness(FORWARD);
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    await h.reconcile();
    await h.apply();
    const { versionId } = await h.aws.put("prod/db", sensitive("pw-2"), { tags: {} }, ctx);
    const report = await h.reconcile();
    expect(findings(report)).toEqual([{ action: "sync", reason: "stale", status: "published" }]);
    expect(h.published.at(-1)?.data.origin).toMatchObject({ versionId });
    await h.apply();
    expect((await h.kv.get(report.actions[0]?.destination.name ?? "", ctx))?.value.reveal()).toBe("pw-2");
    expect((await h.reconcile()).actions).toEqual([]);
  });

  it("soft-deletes the replica of a source scheduled for deletion, and of one gone without a trace", async () => {
    const h = harness(FORWARD);
    await h.aws.put("prod/scheduled", sensitive("a"), { tags: {} }, ctx);
    await h.aws.put("prod/purged", sensitive("b"), { tags: {} }, ctx);
    await h.reconcile();
    await h.apply();
    await h.aws.delete("prod/scheduled", { mode: "recoverable", recoveryWindowDays: 7 }, ctx);
    await h.aws.delete("prod/purged", { mode: "force" }, ctx);
    const report = await h.reconcile();
    expect(findings(report).sort((a, b) => a.reason.localeCompare(b.reason))).toEqual([
      { action: "delete", reason: "source_deleted", status: "published" },
      { action: "delete", reason: "source_gone", status: "published" },
    ]);
    const deletes = h.published.filter((event) => event.data.kind === "delete");
    expect(deletes.map((event) => event.data.deletion)).toEqual([{ mode: "recoverable" }, { mode: "recoverable" }]);
    expect(deletes.map((event) => event.id).some((id) => /:deleted@\d+:source_deleted$/.test(id))).toBe(true);
    expect(deletes.map((event) => event.id).some((id) => id.endsWith(":gone:source_gone"))).toBe(true);
    expect((await h.apply()).map((outcome) => outcome.decision)).toEqual(["deleted", "deleted"]);
    for (const name of report.actions.map((finding) => finding.destination.name)) {
      await expect(h.kv.describe(name, ctx)).resolves.toMatchObject({ state: "deleted" });
    }
    expect((await h.reconcile()).actions).toEqual([]);
  });

  it("publishes a sync for a replica deleted directly in Key Vault, and the replicator recovers it", async () => {
    const h = harness(FORWARD);
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    await h.reconcile();
    await h.apply();
    const replica = h.kvWrites[0]?.name ?? "";
    await h.kv.delete(replica, { mode: "recoverable" }, ctx);
    const report = await h.reconcile();
    expect(findings(report)).toEqual([{ action: "sync", reason: "replica_deleted", status: "published" }]);
    expect(h.published.at(-1)?.id).toMatch(/:replica_deleted@\d+$/);
    // The replicator recovers the soft-deleted replica; it already holds the source's version.
    expect((await h.apply()).map((outcome) => outcome.decision)).toEqual([expect.stringMatching(/^(applied|recovered|skipped_duplicate)$/)]);
    await expect(h.kv.describe(replica, ctx)).resolves.toMatchObject({ state: "active" });
    expect((await h.kv.get(replica, ctx))?.value.reveal()).toBe("pw-1");
    expect((await h.reconcile()).actions).toEqual([]);
  });

  it("finds a replica changed by hand and corrects it as a mutation would: overwritten by default, audited with its own decision", async () => {
    const h = harness(FORWARD);
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    await h.reconcile();
    await h.apply();
    const replica = h.kvWrites[0]?.name ?? "";
    const hand = (h.kv as MemoryVault).handWrite(replica, sensitive("typed-by-hand"));
    expect(findings(await h.reconcile())).toEqual([{ action: "sync", reason: "drift", status: "published" }]);
    const [outcome] = await h.apply();
    expect(outcome).toMatchObject({ decision: "overwrote_drift", destination: { name: replica, replacedVersionId: hand } });
    expect((await h.kv.get(replica, ctx))?.value.reveal()).toBe("pw-1");
    expect((await h.reconcile()).actions).toEqual([]);
  });

  it("reports a replica changed by hand, and leaves it, when the rule keeps drift", async () => {
    const h = harness(`${FORWARD}\n    onDrift: keep`);
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    await h.reconcile();
    await h.apply();
    const replica = h.kvWrites[0]?.name ?? "";
    (h.kv as MemoryVault).handWrite(replica, sensitive("typed-by-hand"));
    const before = h.published.length;
    expect(findings(await h.reconcile())).toEqual([{ action: "conflict", reason: "drift", status: "reported" }]);
    expect(h.published).toHaveLength(before);
    expect((await h.kv.get(replica, ctx))?.value.reveal()).toBe("typed-by-hand");
  });

  it("reports a correction whose audit record could not be published as an error of the run, and still publishes it", async () => {
    const h = harness(FORWARD, { auditFails: true });
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    const report = await h.reconcile();
    expect(findings(report)).toEqual([{ action: "sync", reason: "missing", status: "published" }]);
    expect(h.published).toHaveLength(1);
    expect(report.errors).toEqual([expect.objectContaining({ scope: `audit ${h.published[0]?.id}`, rule: "aws-to-azure" })]);
    expect(report.counts.errors).toBe(1);
  });

  it("publishes the same event id for the same difference, so repeated runs deduplicate on the bus", async () => {
    const h = harness(FORWARD);
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    const first = await h.reconcile();
    const second = await h.reconcile();
    expect(second.actions[0]?.eventId).toBe(first.actions[0]?.eventId);
    expect(findings(second)).toEqual([{ action: "sync", reason: "missing", status: "duplicate" }]);
    expect(h.published).toHaveLength(1);
  });

  it("reports a replica whose source no rule covers anymore, and touches nothing", async () => {
    const h = harness(FORWARD);
    await h.aws.put("prod/legacy/db", sensitive("pw"), { tags: {} }, ctx);
    await h.reconcile();
    await h.apply();
    const narrowed = harness(FORWARD.replace('namePrefixes: ["prod/", "prod-"]', 'namePrefixes: ["prod/payments/"]'));
    for await (const entry of h.kv.list(ctx)) {
      const version = await h.kv.get(entry.name, ctx);
      if (version) await narrowed.kv.put(entry.name, version.value, { tags: version.tags }, ctx);
    }
    await narrowed.aws.put("prod/legacy/db", sensitive("pw"), { tags: {} }, ctx);
    const report = await narrowed.reconcile();
    expect(findings(report)).toEqual([{ action: "orphan", reason: "no_rule", status: "reported" }]);
    expect(narrowed.published).toEqual([]);
  });

  it("reports a destination name held by a secret credmesh does not manage, unless the rule adopts it", async () => {
    const plain = harness(FORWARD);
    await plain.kv.put("prod-owned-elsewhere", sensitive("theirs"), { tags: { owner: "payments" } }, ctx);
    await plain.aws.put("prod-owned-elsewhere", sensitive("ours"), { tags: {} }, ctx);
    expect(findings(await plain.reconcile())).toEqual([{ action: "conflict", reason: "unmanaged_destination", status: "reported" }]);
    expect(plain.published).toEqual([]);

    const adopting = harness(`${FORWARD}\n    adoptUnmanaged: true`);
    await adopting.kv.put("prod-owned-elsewhere", sensitive("theirs"), { tags: { owner: "payments" } }, ctx);
    await adopting.aws.put("prod-owned-elsewhere", sensitive("ours"), { tags: {} }, ctx);
    expect(findings(await adopting.reconcile())).toEqual([{ action: "sync", reason: "adopt_unmanaged", status: "published" }]);
  });

  it("publishes nothing on a dry run and says what it would do", async () => {
    const h = harness(FORWARD);
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    const report = await h.reconcile("azure", true);
    expect(report.dryRun).toBe(true);
    expect(findings(report)).toEqual([{ action: "sync", reason: "missing", status: "dry_run" }]);
    expect(report.actions[0]?.eventId).toMatch(/^reconcile:azure:/);
    expect(h.published).toEqual([]);
    expect(h.audits).toEqual([]);
  });

  it("holds every delete when a run would delete more replicas than allowed", async () => {
    const h = harness(FORWARD, { maxDeletes: 1 });
    for (const name of ["prod/a", "prod/b"]) await h.aws.put(name, sensitive("v"), { tags: {} }, ctx);
    await h.reconcile();
    await h.apply();
    for (const name of ["prod/a", "prod/b"]) await h.aws.delete(name, { mode: "force" }, ctx);
    const before = h.published.length;
    const report = await h.reconcile();
    expect(findings(report)).toEqual([
      { action: "delete", reason: "source_gone", status: "held" },
      { action: "delete", reason: "source_gone", status: "held" },
    ]);
    expect(report.errors).toMatchObject([{ reason: "too_many_deletes" }]);
    expect(h.published).toHaveLength(before);
  });

  it("counts its findings in metrics and ignores secrets outside every rule", async () => {
    const h = harness(FORWARD);
    await h.aws.put("staging/db", sensitive("v"), { tags: {} }, ctx);
    await h.aws.put("prod/db", sensitive("v"), { tags: {} }, ctx);
    const report = await h.reconcile();
    expect(report.counts.sync).toBe(1);
    const text = await h.metrics.registry.metrics();
    expect(text).toContain('credmesh_reconcile_actions_total{destination="azure",action="sync"} 1');
    expect(text).toMatch(/credmesh_reconcile_run_duration_seconds_count\{destination="azure",outcome="ok"\} 1/);
    expect(text).toContain('credmesh_replication_decisions_total{destination="azure",decision="reconciled"} 1');
  });
});

describe("Reconciler (Azure → AWS, and bidirectional pairs)", () => {
  it("replicates a Key Vault secret the events missed, and soft-deletes its replica once it is deleted in Key Vault", async () => {
    const h = harness(BACK);
    await h.kv.put("app-token", sensitive("t-1"), { tags: {} }, ctx);
    const first = await h.reconcile("aws");
    expect(findings(first)).toEqual([{ action: "sync", reason: "missing", status: "published" }]);
    // Key Vault listings do not tell the current version: it was read from the version metadata.
    expect(first.actions[0]?.source?.versionId).toBe(h.kvWrites[0]?.versionId);
    await h.apply();
    expect((await h.aws.get("app-token", ctx))?.value.reveal()).toBe("t-1");
    expect((await h.reconcile("aws")).actions).toEqual([]);

    // Key Vault emits no delete event: anti-entropy is how this deletion reaches AWS.
    await h.kv.delete("app-token", { mode: "recoverable" }, ctx);
    const second = await h.reconcile("aws");
    expect(findings(second)).toEqual([{ action: "delete", reason: "source_deleted", status: "published" }]);
    await h.apply();
    await expect(h.aws.describe("app-token", ctx)).resolves.toMatchObject({ state: "deleted" });
    expect((await h.reconcile("aws")).actions).toEqual([]);
  });

  it("reads a Key Vault source's versions only while its listing shows a version no earlier run proved, same-second versions included", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.UTC(2026, 11, 7, 3, 0, 0, 200) });
    try {
      const h = harness(BACK);
      const at = (ms: number): void => {
        vi.setSystemTime(Date.UTC(2026, 11, 7, 3, 0, 0, ms));
      };
      const versionReadsOf = async (run: () => Promise<ReconcileReport>): Promise<{ reads: number; report: ReconcileReport }> => {
        const before = h.kvVersionReads();
        const report = await run();
        return { reads: h.kvVersionReads() - before, report };
      };
      await h.kv.put("app-a", sensitive("a-1"), { tags: {} }, ctx);
      await h.kv.put("app-b", sensitive("b-1"), { tags: {} }, ctx);
      const first = await versionReadsOf(() => h.reconcile("aws"));
      expect(first.reads).toBe(2);
      expect(first.report.counts.sync).toBe(2);
      await h.apply();
      // A new version in the same second as the one just replicated, whose event was lost: the
      // listing cannot tell it from the first, and the first was read within its second, so it
      // was not remembered.
      at(600);
      const { versionId: a2 } = await h.kv.put("app-a", sensitive("a-2"), { tags: {} }, ctx);
      at(1_500);
      await h.kv.put("app-c", sensitive("c-1"), { tags: {} }, ctx);
      const second = await versionReadsOf(() => h.reconcile("aws"));
      expect(second.reads).toBe(3);
      expect(findings(second.report)).toEqual([
        { action: "sync", reason: "stale", status: "published" },
        { action: "sync", reason: "missing", status: "published" },
      ]);
      expect(second.report.actions.find((action) => action.source?.name === "app-a")?.source?.versionId).toBe(a2);
      await h.apply();
      expect((await h.aws.get("app-a", ctx))?.value.reveal()).toBe("a-2");
      // Read after the vault's clock passed their seconds: a and b are known now; c, the newest, is read again.
      at(2_500);
      const converged = await versionReadsOf(() => h.reconcile("aws"));
      expect(converged).toMatchObject({ reads: 1, report: { actions: [] } });
      // A new version shows a later creation second: read, and synced.
      at(2_700);
      await h.kv.put("app-b", sensitive("b-2"), { tags: {} }, ctx);
      at(3_100);
      const changed = await versionReadsOf(() => h.reconcile("aws"));
      expect(changed.reads).toBe(2);
      expect(findings(changed.report)).toEqual([{ action: "sync", reason: "stale", status: "published" }]);
      await h.apply();
      expect((await h.aws.get("app-b", ctx))?.value.reveal()).toBe("b-2");
      at(3_200);
      expect(await versionReadsOf(() => h.reconcile("aws"))).toMatchObject({ reads: 1, report: { actions: [] } });
      // Nothing newer in the vault: once this host's clock, less 10 minutes for skew, has passed
      // b's second, the last read proves it too, and a converged run reads no version list.
      vi.setSystemTime(Date.UTC(2026, 11, 7, 3, 11, 0));
      expect(await versionReadsOf(() => h.reconcile("aws"))).toMatchObject({ reads: 1, report: { actions: [] } });
      expect(await versionReadsOf(() => h.reconcile("aws"))).toMatchObject({ reads: 0, report: { actions: [] } });
    } finally {
      vi.useRealTimers();
    }
  });

  it("keeps what its runs proved in the store: a restarted process reads no version list an earlier run proved", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.UTC(2026, 11, 7, 3, 0, 0, 200) });
    try {
      const store = new MapStore();
      const withStore = harness(BACK, { provedVersions: store });
      const memoryOnly = harness(BACK);
      for (const h of [withStore, memoryOnly]) {
        await h.kv.put("app-a", sensitive("a-1"), { tags: {} }, ctx);
        await h.kv.put("app-b", sensitive("b-1"), { tags: {} }, ctx);
      }
      vi.setSystemTime(Date.UTC(2026, 11, 7, 3, 0, 1, 500));
      for (const h of [withStore, memoryOnly]) {
        await h.kv.put("app-c", sensitive("c-1"), { tags: {} }, ctx);
        await h.reconcile("aws");
        await h.apply();
      }
      // c is the newest, read within its second: a and b are proved, c is not.
      expect([...store.proofs.keys()].sort()).toEqual(["azure/payments-kv/app-a", "azure/payments-kv/app-b"]);
      const reads = async (h: ReturnType<typeof harness>): Promise<number> => {
        const before = h.kvVersionReads();
        expect((await h.reconcile("aws")).actions).toEqual([]);
        return h.kvVersionReads() - before;
      };
      withStore.restart("aws");
      memoryOnly.restart("aws");
      expect(await reads(withStore)).toBe(1);
      expect(await reads(memoryOnly)).toBe(3);
      // A proof is written again only when it is new, or nears the store's max age. A week on, the
      // host's clock proves c too (its second is long past, skew allowance included): a and b are
      // written again before they expire, c for the first time.
      expect(store.puts).toBe(2);
      vi.setSystemTime(Date.UTC(2026, 11, 7, 3, 0, 1, 500) + store.ttlMs / 2 + 1_000);
      withStore.restart("aws");
      expect(await reads(withStore)).toBe(1);
      expect(store.puts).toBe(5);
      withStore.restart("aws");
      expect(await reads(withStore)).toBe(0);
      expect(store.puts).toBe(5);
    } finally {
      vi.useRealTimers();
    }
  });

  it("reads the version lists when the store cannot answer, and converges all the same", async () => {
    const store = new MapStore();
    const h = harness(BACK, { provedVersions: store });
    await h.kv.put("app-a", sensitive("a-1"), { tags: {} }, ctx);
    store.failing = true;
    const first = await h.reconcile("aws");
    expect(findings(first)).toEqual([{ action: "sync", reason: "missing", status: "published" }]);
    expect(first.errors).toEqual([]);
    await h.apply();
    h.restart("aws");
    const before = h.kvVersionReads();
    expect((await h.reconcile("aws")).actions).toEqual([]);
    expect(h.kvVersionReads() - before).toBe(1);
  });

  it("leaves a converged pair alone in both directions: a replica is never echoed back", async () => {
    const h = harness(`${FORWARD}${BACK}`);
    await h.aws.put("prod-db", sensitive("pw-1"), { tags: {} }, ctx);
    expect(findings(await h.reconcile("azure"))).toEqual([{ action: "sync", reason: "missing", status: "published" }]);
    await h.apply();
    expect((await h.reconcile("aws")).actions).toEqual([]);
    expect((await h.reconcile("azure")).actions).toEqual([]);
  });

  it("carries a change made to the Key Vault copy back to the AWS original, then finds both sides in sync", async () => {
    const h = harness(`${FORWARD}${BACK}`);
    await h.aws.put("prod-db", sensitive("pw-1"), { tags: {} }, ctx);
    await h.reconcile("azure");
    await h.apply();
    await h.kv.put("prod-db", sensitive("pw-changed-in-azure"), { tags: {} }, ctx);
    const back = await h.reconcile("aws");
    expect(findings(back)).toEqual([{ action: "sync", reason: "pair_changed", status: "published" }]);
    await h.apply();
    expect((await h.aws.get("prod-db", ctx))?.value.reveal()).toBe("pw-changed-in-azure");
    expect((await h.reconcile("azure")).actions).toEqual([]);
    expect((await h.reconcile("aws")).actions).toEqual([]);
  });

  it("recovers a Key Vault replica deleted in a pair whose original is in AWS: deleting a copy never deletes the original", async () => {
    const h = harness(`${FORWARD}${BACK}`);
    await h.aws.put("prod-db", sensitive("pw-1"), { tags: {} }, ctx);
    await h.reconcile("azure");
    await h.apply();
    await h.kv.delete("prod-db", { mode: "recoverable" }, ctx);
    expect((await h.reconcile("aws")).actions).toEqual([]);
    expect(findings(await h.reconcile("azure"))).toEqual([{ action: "sync", reason: "replica_deleted", status: "published" }]);
    await h.apply();
    await expect(h.kv.describe("prod-db", ctx)).resolves.toMatchObject({ state: "active" });
    await expect(h.aws.describe("prod-db", ctx)).resolves.toMatchObject({ state: "active" });
  });

  it("deletes the AWS copy when its Key Vault original is deleted, and does not resurrect the original", async () => {
    const h = harness(`${FORWARD}${BACK}`);
    await h.kv.put("prod-api-key", sensitive("k-1"), { tags: {} }, ctx);
    await h.reconcile("aws");
    await h.apply();
    await expect(h.aws.describe("prod-api-key", ctx)).resolves.toMatchObject({ state: "active", tags: { "credmesh-origin": "azure" } });
    await h.kv.delete("prod-api-key", { mode: "recoverable" }, ctx);
    expect((await h.reconcile("azure")).actions).toEqual([]);
    expect(findings(await h.reconcile("aws"))).toEqual([{ action: "delete", reason: "source_deleted", status: "published" }]);
    await h.apply();
    await expect(h.aws.describe("prod-api-key", ctx)).resolves.toMatchObject({ state: "deleted" });
    await expect(h.kv.describe("prod-api-key", ctx)).resolves.toMatchObject({ state: "deleted" });
  });
});

describe("Reconciler: what it cannot prove", () => {
  it("never deletes a replica whose source account it cannot list: it reports it instead", async () => {
    const rules = parseRules(`rules:${FORWARD}`);
    const aws: VaultPort = new MemoryVault("aws", { arn: { account: ACCOUNT, region: REGION } });
    const kv: VaultPort = new MemoryVault("azure");
    const converge = {
      rules,
      sourceFor: () => aws,
      destinationFor: () => kv,
      vaultUrlOf: (vault: string) => `https://${vault}.vault.azure.net`,
      contentHashKey: sensitive("k".repeat(32)),
      budget: new RetryBudget(),
      ownSessionPrefix: "credmesh-",
    };
    const published: MutationEvent[] = [];
    const reconciler = new Reconciler({
      destination: "azure",
      cell: "test",
      rules,
      vaults: { sourceFor: () => aws, destinationFor: () => kv },
      vaultUrlOf: (vault) => `https://${vault}.vault.azure.net`,
      publisher: {
        publishMutation: async (event) => (published.push(event), { subject: "s", stream: "m", seq: 1, duplicate: false }),
        publishRecord: async () => ({ subject: "a", stream: "a", seq: 1, duplicate: false }),
      },
      metrics: createMetrics(new Registry(), { defaultMetrics: false }),
      budget: new RetryBudget(),
      maxDeletes: 100,
      logger,
    });
    await aws.put("prod/only", sensitive("v"), { tags: {} }, ctx);
    await reconciler.run({ dryRun: false, trigger: "request" });
    for (const event of published) await applyMutation(event, converge, { logger });
    await aws.delete("prod/only", { mode: "force" }, ctx);
    // The region is now empty: no ARN tells which account the cell lists, and no awsAccount was given.
    const report = await reconciler.run({ dryRun: false, trigger: "request" });
    expect(report.actions).toEqual([]);
    expect(report.errors).toMatchObject([{ reason: "source_unverifiable" }]);
    expect(published).toHaveLength(1);
  });
});
