import { describe, expect, it } from "vitest";
import { sensitive } from "@credmesh/logging";
import type { OriginRef } from "@credmesh/replicas";
import { decideDelete, decideUpsert, type DeleteFacts, type UpsertFacts } from "./policy.ts";
import type { SideState } from "./sides.ts";

const awsSecret: OriginRef = { cloud: "aws", account: "123456789012", region: "us-east-1", name: "prod/db" };
const kvSecret: OriginRef = { cloud: "azure", vault: "payments-kv", name: "prod-db" };
const at = (minute: number): Date => new Date(Date.UTC(2026, 10, 22, 10, minute));

function side(state: Partial<SideState> & { createdAt?: Date; versionId?: string }): SideState {
  const { createdAt, versionId, ...rest } = state;
  return { state: "active", writtenByCredmesh: false, current: { versionId: versionId ?? "dest-v", ...(createdAt ? { createdAt } : {}) }, ...rest };
}

/** credmesh's copy of `copied` of the source, written by mutation `by`. */
const copy = (copied: string, extra: Partial<SideState> & { createdAt?: Date; versionId?: string } = {}): SideState =>
  side({ writtenByCredmesh: true, writtenBy: "m-earlier", origin: awsSecret, owner: awsSecret, copiedVersion: copied, originCloud: "aws", ...extra });

function source(versionId = "src-v2", createdAt: Date | undefined = at(10), extra: Partial<SideState> = {}): SideState {
  return { state: "active", writtenByCredmesh: false, current: { versionId, createdAt, value: sensitive("v") }, ...extra };
}

function facts(overrides: Partial<UpsertFacts>): UpsertFacts {
  return {
    sourceRef: awsSecret,
    source: source(),
    destination: { state: "absent", writtenByCredmesh: false },
    destinationCloud: "azure",
    pairCoveredBack: false,
    sourceHistoryRead: true,
    mutation: "m-now",
    ...overrides,
  };
}

describe("decideUpsert", () => {
  it("writes a replica that does not exist yet", () => {
    expect(decideUpsert(facts({}))).toEqual({ action: "write", why: "missing" });
  });

  it("skips when the replica already holds this origin version (deduplication)", () => {
    expect(decideUpsert(facts({ destination: copy("src-v2") }))).toMatchObject({ action: "skip", decision: "skipped_duplicate" });
  });

  it("recognises this mutation's own earlier write (a lost response) as its outcome, not a duplicate", () => {
    const destination = copy("src-v2", { writtenBy: "m-now", versionId: "kv-7" });
    expect(decideUpsert(facts({ destination }))).toEqual({ action: "confirm", versionId: "kv-7" });
  });

  it("writes a newer origin version over credmesh's older copy", () => {
    expect(decideUpsert(facts({ destination: copy("src-v1", { createdAt: at(20) }) }))).toEqual({ action: "write", why: "stale" });
  });

  it("skips the source's version that is credmesh's own copy from the destination (echo)", () => {
    const echo = source("kv-copy", at(10), { writtenByCredmesh: true, originCloud: "azure" });
    expect(decideUpsert(facts({ source: echo, destination: side({}) }))).toMatchObject({ action: "skip", decision: "skipped_echo" });
  });

  it("skips a source that is gone", () => {
    expect(decideUpsert(facts({ source: { state: "deleted", writtenByCredmesh: false } }))).toMatchObject({ action: "skip", decision: "skipped_absent" });
  });

  it("refuses to overwrite a secret credmesh does not manage", () => {
    expect(decideUpsert(facts({ destination: side({}) }))).toMatchObject({ action: "refuse", reason: "unmanaged_destination" });
  });

  it("refuses when the destination replicates a different source (collision)", () => {
    const destination = copy("x", { origin: { ...awsSecret, name: "prod/other" } });
    expect(decideUpsert(facts({ destination }))).toMatchObject({ action: "refuse", reason: "name_collision" });
  });

  it("writes back into the original of a bidirectional pair when only the copy changed", () => {
    const paired = source("kv-2", at(10), { origin: kvSecret, copiedVersion: "orig-1" });
    const destination = side({ versionId: "orig-1", createdAt: at(5) });
    expect(decideUpsert(facts({ sourceRef: awsSecret, source: paired, destination, destinationCloud: "azure" }))).toEqual({ action: "write", why: "pair_changed" });
  });

  describe("drift: a replica changed by hand, no rule carrying the change back", () => {
    const drifted = side({ origin: awsSecret, copiedVersion: "src-v2", versionId: "hand-1", createdAt: at(30) });

    it("is overwritten by default, naming the replaced version, whatever the times", () => {
      expect(decideUpsert(facts({ destination: drifted }))).toEqual({ action: "write", why: "drift", replaces: "hand-1" });
      expect(decideUpsert(facts({ destination: drifted, onDrift: "overwrite", source: source("src-v3", at(40)) }))).toEqual({
        action: "write",
        why: "drift",
        replaces: "hand-1",
      });
    });

    it("is kept with onDrift: keep", () => {
      expect(decideUpsert(facts({ destination: drifted, onDrift: "keep" }))).toMatchObject({ action: "skip", decision: "skipped_drift" });
    });
  });

  describe("conflict: both sides of a pair changed before either replicated", () => {
    const changed = (createdAt: Date | undefined): SideState => side({ origin: awsSecret, copiedVersion: "src-v1", versionId: "kv-hand", ...(createdAt ? { createdAt } : {}) });

    it("is no conflict when only the destination changed: that change replicates the other way", () => {
      const destination = side({ origin: awsSecret, copiedVersion: "src-v2", createdAt: at(9) });
      expect(decideUpsert(facts({ destination, pairCoveredBack: true }))).toMatchObject({ action: "skip", decision: "skipped_conflict" });
    });

    it("compares creation times at whole seconds, so a sub-second AWS time does not beat Key Vault's", () => {
      const destination = changed(new Date(at(10).getTime() + 600));
      expect(decideUpsert(facts({ destination, pairCoveredBack: true }))).toEqual({ action: "write", why: "changed_on_both_sides" });
    });

    it("skips when the destination's own change is later (it replicates the other way)", () => {
      expect(decideUpsert(facts({ destination: changed(at(11)), pairCoveredBack: true }))).toMatchObject({ action: "skip", decision: "skipped_conflict" });
    });

    it("writes when the source's change is later", () => {
      expect(decideUpsert(facts({ destination: changed(at(9)), pairCoveredBack: true }))).toEqual({ action: "write", why: "changed_on_both_sides" });
    });

    it("is no conflict when the source already received the destination's change (provenance, not clocks)", () => {
      const destination = changed(at(12));
      const source = { state: "active" as const, writtenByCredmesh: false, copiedVersion: "kv-hand", current: { versionId: "src-v3", createdAt: at(12) } };
      expect(decideUpsert(facts({ destination, source, pairCoveredBack: true }))).toEqual({ action: "write", why: "stale" });
    });

    it("asks for the source's older versions when it cannot tell what the source last received", () => {
      expect(decideUpsert(facts({ destination: changed(at(11)), pairCoveredBack: true, sourceHistoryRead: false }))).toEqual({ action: "need_source_history" });
    });

    it("asks for the destination version's creation time when the cheap read did not tell it", () => {
      expect(decideUpsert(facts({ destination: changed(undefined), pairCoveredBack: true }))).toEqual({ action: "need_created" });
    });

    it("lets AWS win a tie: Azure → AWS skips, AWS → Azure writes", () => {
      expect(decideUpsert(facts({ destination: changed(at(10)), pairCoveredBack: true }))).toEqual({ action: "write", why: "changed_on_both_sides" });
      const awsDestination = side({ origin: kvSecret, copiedVersion: "kv-v1", createdAt: at(10) });
      expect(
        decideUpsert(facts({ sourceRef: kvSecret, source: source("kv-v2", at(10)), destination: awsDestination, destinationCloud: "aws", pairCoveredBack: true })),
      ).toMatchObject({ action: "skip", decision: "skipped_conflict" });
    });

    it("settles the same simultaneous change identically from both directions", () => {
      // AWS changed at :12, Key Vault at :11; neither replicated yet.
      const fromAws = decideUpsert(
        facts({ source: source("a2", at(12)), destination: side({ origin: awsSecret, copiedVersion: "a1", createdAt: at(11) }), pairCoveredBack: true }),
      );
      const fromAzure = decideUpsert(
        facts({
          sourceRef: kvSecret,
          source: source("k2", at(11)),
          destination: side({ origin: kvSecret, copiedVersion: "k1", createdAt: at(12) }),
          destinationCloud: "aws",
          pairCoveredBack: true,
        }),
      );
      expect([fromAws.action, fromAzure.action]).toEqual(["write", "skip"]);
    });
  });

  describe("a soft-deleted destination", () => {
    const deletedReplica: SideState = { state: "deleted", origin: awsSecret, owner: awsSecret, copiedVersion: "src-v1", writtenByCredmesh: false };

    it("is recovered before writing when it is a replica of the source (default policy)", () => {
      expect(decideUpsert(facts({ destination: deletedReplica }))).toEqual({ action: "recover" });
    });

    it("is refused as deleted_in_destination when the rule says fail", () => {
      expect(decideUpsert(facts({ destination: deletedReplica, onDeletedDestination: "fail" }))).toMatchObject({ action: "refuse", reason: "deleted_in_destination" });
    });

    it("is not recovered when credmesh does not manage it", () => {
      expect(decideUpsert(facts({ destination: { state: "deleted", writtenByCredmesh: false } }))).toMatchObject({ action: "refuse", reason: "unmanaged_destination" });
    });
  });

  describe("monotonicity", () => {
    it("never replaces a copy of a newer origin version with an older one", () => {
      const destination = copy("src-v5", { copiedVersionCreatedAt: at(50) });
      expect(decideUpsert(facts({ source: source("src-v3", at(30)), destination }))).toMatchObject({ action: "skip", decision: "skipped_stale" });
    });

    it("writes a newer origin version over a copy of an older one", () => {
      const destination = copy("src-v3", { copiedVersionCreatedAt: at(30) });
      expect(decideUpsert(facts({ source: source("src-v5", at(50)), destination }))).toEqual({ action: "write", why: "stale" });
    });
  });

  it("takes over an unmanaged destination only when the rule opts in", () => {
    expect(decideUpsert(facts({ destination: side({ createdAt: at(1) }), adoptUnmanaged: true }))).toEqual({ action: "write", why: "adopt_unmanaged" });
    expect(decideUpsert(facts({ destination: side({ createdAt: at(1) }) }))).toMatchObject({ action: "refuse" });
  });
});

describe("decideDelete", () => {
  const deleted: SideState = { state: "deleted", writtenByCredmesh: false };
  const del = (overrides: Partial<DeleteFacts>): DeleteFacts => ({
    sourceRef: awsSecret,
    source: deleted,
    destination: copy("src-v2"),
    destinationCloud: "azure",
    forceDeleted: false,
    ...overrides,
  });

  it("soft-deletes credmesh's replica of the deleted source", () => {
    expect(decideDelete(del({}))).toEqual({ action: "delete", purge: false, why: "source_deleted" });
  });

  it("purges only for a force delete under onForceDelete: purge", () => {
    expect(decideDelete(del({ forceDeleted: true }))).toMatchObject({ purge: false });
    expect(decideDelete(del({ forceDeleted: true, onForceDelete: "purge" }))).toMatchObject({ purge: true });
  });

  it("leaves the replica when the rule ignores deletes, or the source exists again", () => {
    expect(decideDelete(del({ onDelete: "ignore" }))).toMatchObject({ action: "skip", decision: "skipped_absent" });
    expect(decideDelete(del({ source: source() }))).toMatchObject({ action: "skip", decision: "skipped_absent" });
  });

  it("never deletes the original when the deleted secret was a copy of it", () => {
    const copyOfDestination: SideState = { state: "deleted", origin: kvSecret, writtenByCredmesh: false };
    expect(decideDelete(del({ source: copyOfDestination, destination: side({}) }))).toMatchObject({ action: "skip", decision: "skipped_absent" });
  });

  it("applies the drift policy to a replica changed by hand", () => {
    const drifted = side({ origin: awsSecret, versionId: "hand-1" });
    expect(decideDelete(del({ destination: drifted }))).toEqual({ action: "delete", purge: false, why: "drift", replaces: "hand-1" });
    expect(decideDelete(del({ destination: drifted, onDrift: "keep" }))).toMatchObject({ action: "skip", decision: "skipped_drift" });
  });

  it("refuses a destination credmesh does not manage, or another source's replica", () => {
    expect(decideDelete(del({ destination: side({}) }))).toMatchObject({ action: "refuse", reason: "unmanaged_destination" });
    expect(decideDelete(del({ destination: copy("x", { origin: { ...awsSecret, name: "o" }, owner: { ...awsSecret, name: "o" } }) }))).toMatchObject({
      action: "refuse",
      reason: "name_collision",
    });
  });
});
