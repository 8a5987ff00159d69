import { describe, expect, it } from "vitest";
import { sensitive } from "@credmesh/logging";
import { decideUpsert, type UpsertFacts } from "./policy.ts";
import type { OriginRef } from "@credmesh/replicas";
import type { SideState } from "./sides.ts";

const awsSecret: OriginRef = { cloud: "aws", account: "123456789012", region: "us-east-1", name: "prod/db" };
const kvSecret: OriginRef = { cloud: "azure", vault: "payments-kv", name: "prod-db" };
const at = (minute: number): Date => new Date(Date.UTC(2026, 10, 22, 10, minute));

function side(state: Partial<SideState> & { createdAt?: Date; versionId?: string }): SideState {
  const { createdAt, versionId, ...rest } = state;
  return {
    state: "active",
    writtenByCredmesh: false,
    current: { name: "x", versionId: versionId ?? "dest-v", value: sensitive("v"), encoding: "utf8", tags: {}, ...(createdAt ? { createdAt } : {}) },
    ...rest,
  };
}

function facts(overrides: Partial<UpsertFacts>): UpsertFacts {
  return {
    sourceRef: awsSecret,
    sourceVersion: { versionId: "src-v2", createdAt: at(10) },
    pairedWithDestination: false,
    destination: { state: "absent", writtenByCredmesh: false },
    destinationCloud: "azure",
    ...overrides,
  };
}

describe("decideUpsert", () => {
  it("writes a replica that does not exist yet", () => {
    expect(decideUpsert(facts({}))).toEqual({ action: "write" });
  });

  it("skips when the replica already holds this origin version (deduplication)", () => {
    const destination = side({ writtenByCredmesh: true, origin: awsSecret, copiedVersion: "src-v2" });
    expect(decideUpsert(facts({ destination }))).toMatchObject({ action: "skip", decision: "skipped_duplicate" });
  });

  it("writes a newer origin version over credmesh's older copy", () => {
    const destination = side({ writtenByCredmesh: true, origin: awsSecret, copiedVersion: "src-v1", createdAt: at(20) });
    expect(decideUpsert(facts({ destination }))).toEqual({ action: "write" });
  });

  it("refuses to overwrite a secret credmesh does not manage", () => {
    expect(decideUpsert(facts({ destination: side({}) }))).toMatchObject({ action: "refuse", reason: "unmanaged_destination" });
  });

  it("refuses when the destination replicates a different source (collision)", () => {
    const destination = side({ writtenByCredmesh: true, origin: { ...awsSecret, name: "prod/other" }, copiedVersion: "x" });
    expect(decideUpsert(facts({ destination }))).toMatchObject({ action: "refuse", reason: "name_collision" });
  });

  it("writes back into the original of a bidirectional pair, though credmesh did not create it", () => {
    const destination = side({ createdAt: at(5) });
    expect(decideUpsert(facts({ destination, pairedWithDestination: true }))).toEqual({ action: "write" });
  });

  describe("conflict: both sides changed before either replicated", () => {
    it("is no conflict when the source already received the destination's current version", () => {
      // The destination's version is a person's change the source side has since copied; the
      // source then changed again. Timestamps are not consulted (they may tie within a second).
      const destination = side({ origin: awsSecret, copiedVersion: "src-v1", createdAt: at(11), versionId: "dest-k1" });
      expect(decideUpsert(facts({ destination, sourceCopiedVersion: "dest-k1" }))).toEqual({ action: "write" });
    });

    it("compares creation times at whole seconds, so a sub-second AWS time does not beat Key Vault's", () => {
      const destination = side({ origin: awsSecret, copiedVersion: "src-v1", createdAt: new Date(at(10).getTime() + 600) });
      expect(decideUpsert(facts({ destination, destinationCloud: "azure" }))).toEqual({ action: "write" });
    });

    it("skips when the destination's own change is later (it replicates the other way)", () => {
      const destination = side({ origin: awsSecret, copiedVersion: "src-v1", createdAt: at(11) });
      expect(decideUpsert(facts({ destination }))).toMatchObject({ action: "skip", decision: "skipped_conflict" });
    });

    it("writes when the source's change is later", () => {
      const destination = side({ origin: awsSecret, copiedVersion: "src-v1", createdAt: at(9) });
      expect(decideUpsert(facts({ destination }))).toEqual({ action: "write" });
    });

    it("lets AWS win a tie: Azure → AWS skips, AWS → Azure writes", () => {
      const azureDestination = side({ origin: awsSecret, copiedVersion: "src-v1", createdAt: at(10) });
      expect(decideUpsert(facts({ destination: azureDestination, destinationCloud: "azure" }))).toEqual({ action: "write" });
      const awsDestination = side({ origin: kvSecret, copiedVersion: "kv-v1", createdAt: at(10) });
      expect(
        decideUpsert(facts({ sourceRef: kvSecret, destination: awsDestination, destinationCloud: "aws" })),
      ).toMatchObject({ action: "skip", decision: "skipped_conflict" });
    });

    it("settles the same simultaneous change identically from both directions", () => {
      // AWS changed at :12, Key Vault at :11; neither replicated yet.
      const fromAws = decideUpsert(
        facts({ sourceVersion: { versionId: "a2", createdAt: at(12) }, destination: side({ origin: awsSecret, copiedVersion: "a1", createdAt: at(11) }) }),
      );
      const fromAzure = decideUpsert(
        facts({
          sourceRef: kvSecret,
          sourceVersion: { versionId: "k2", createdAt: at(11) },
          destination: side({ origin: kvSecret, copiedVersion: "k1", createdAt: at(12) }),
          destinationCloud: "aws",
        }),
      );
      expect([fromAws.action, fromAzure.action]).toEqual(["write", "skip"]);
    });
  });

  describe("a soft-deleted destination", () => {
    const deletedReplica: SideState = { state: "deleted", origin: awsSecret, copiedVersion: "src-v1", writtenByCredmesh: false };

    it("is recovered before writing when it is a replica of the source (default policy)", () => {
      expect(decideUpsert(facts({ destination: deletedReplica }))).toEqual({ action: "recover" });
    });

    it("is refused as deleted_in_destination when the rule says fail", () => {
      expect(decideUpsert(facts({ destination: deletedReplica, onDeletedDestination: "fail" }))).toMatchObject({
        action: "refuse",
        reason: "deleted_in_destination",
      });
    });

    it("is not recovered when credmesh does not manage it", () => {
      expect(decideUpsert(facts({ destination: { state: "deleted", writtenByCredmesh: false } }))).toMatchObject({
        action: "refuse",
        reason: "unmanaged_destination",
      });
    });
  });

  describe("monotonicity", () => {
    it("never replaces a copy of a newer origin version with an older one", () => {
      const destination = side({ writtenByCredmesh: true, origin: awsSecret, copiedVersion: "src-v5", copiedVersionCreatedAt: at(50) });
      expect(decideUpsert(facts({ sourceVersion: { versionId: "src-v3", createdAt: at(30) }, destination }))).toMatchObject({
        action: "skip",
        decision: "skipped_stale",
      });
    });

    it("writes a newer origin version over a copy of an older one", () => {
      const destination = side({ writtenByCredmesh: true, origin: awsSecret, copiedVersion: "src-v3", copiedVersionCreatedAt: at(30) });
      expect(decideUpsert(facts({ sourceVersion: { versionId: "src-v5", createdAt: at(50) }, destination }))).toEqual({ action: "write" });
    });
  });

  it("takes over an unmanaged destination only when the rule opts in", () => {
    expect(decideUpsert(facts({ destination: side({ createdAt: at(1) }), adoptUnmanaged: true }))).toEqual({ action: "write" });
    expect(decideUpsert(facts({ destination: side({ createdAt: at(1) }) }))).toMatchObject({ action: "refuse" });
  });
});
