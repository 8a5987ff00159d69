import { describe, expect, it } from "vitest";
import { parseRules, type Rule } from "@credmesh/config";
import type { OriginRef } from "@credmesh/replicas";
import { ABSENT, type SideState } from "../converge/sides.ts";
import { encodeStamp } from "../converge/stamp.ts";
import { decideSource, decideUnclaimed, listedSide, type SourceFacts } from "./decide.ts";

const S: OriginRef = { cloud: "aws", account: "123456789012", region: "us-east-1", name: "prod/db" };
const D: OriginRef = { cloud: "azure", vault: "payments-kv", name: "prod-db" };
const OTHER: OriginRef = { ...S, name: "prod/other" };

function rule(extra = ""): Rule {
  const [parsed] = parseRules(`rules:
  - id: r
    source: { cloud: aws, accounts: ["123456789012"], regions: [us-east-1], namePrefixes: ["prod/"] }
    destination: { cloud: azure, vaultUrl: https://payments-kv.vault.azure.net }
${extra}`);
  return parsed as Rule;
}

const source = (side: Partial<SideState> = {}): SideState => ({ state: "active", current: { versionId: "v2" }, writtenByCredmesh: false, ...side });
const replica = (side: Partial<SideState> = {}): SideState => ({
  state: "active",
  origin: S,
  owner: S,
  copiedVersion: "v2",
  writtenByCredmesh: true,
  ...side,
});

function decide(overrides: Partial<SourceFacts>) {
  return decideSource({ rule: rule(), sourceRef: S, source: source(), destination: ABSENT, pairCoveredBack: false, ...overrides });
}

describe("decideSource", () => {
  it.each([
    ["a missing replica", {}, { kind: "sync", reason: "missing" }],
    ["a replica of the current version", { destination: replica() }, { kind: "unchanged" }],
    ["a replica of an older version", { destination: replica({ copiedVersion: "v1" }) }, { kind: "sync", reason: "stale" }],
    ["a replica deleted in the destination", { destination: replica({ state: "deleted", writtenByCredmesh: false }) }, { kind: "sync", reason: "replica_deleted" }],
    ["a secret credmesh does not manage", { destination: { state: "active", writtenByCredmesh: false } }, { kind: "conflict", reason: "unmanaged_destination" }],
    ["another source's replica", { destination: replica({ origin: OTHER, owner: OTHER }) }, { kind: "conflict", reason: "name_collision" }],
    ["a deleted secret credmesh does not manage", { destination: { state: "deleted", writtenByCredmesh: false } }, { kind: "conflict", reason: "unmanaged_destination" }],
  ] as const)("%s", (_label, overrides, expected) => {
    expect(decide(overrides as Partial<SourceFacts>)).toMatchObject(expected);
  });

  it("follows the rule's policies: adoption of unmanaged secrets, no recovery of deleted ones", () => {
    const adopting = rule("    adoptUnmanaged: true");
    expect(decide({ rule: adopting, destination: { state: "active", writtenByCredmesh: false } })).toMatchObject({ kind: "sync", reason: "adopt_unmanaged" });
    const failing = rule("    onDeletedDestination: fail");
    expect(decide({ rule: failing, destination: replica({ state: "deleted" }) })).toMatchObject({ kind: "conflict", reason: "recovery_forbidden" });
  });

  it("deletes the replica of a deleted source only when the replica's own tags name that source", () => {
    const deleted = source({ state: "deleted" });
    expect(decide({ source: deleted, destination: replica() })).toMatchObject({ kind: "delete", reason: "source_deleted" });
    expect(decide({ source: deleted, destination: replica({ state: "deleted" }) })).toMatchObject({ kind: "unchanged" });
    expect(decide({ source: deleted, destination: ABSENT })).toMatchObject({ kind: "unchanged" });
    // Key Vault replica changed by someone since (its current version is untagged): the drift policy decides.
    expect(decide({ source: deleted, destination: replica({ owner: undefined, writtenByCredmesh: false }) })).toMatchObject({ kind: "delete", reason: "drift" });
    expect(decide({ rule: rule("    onDrift: keep"), source: deleted, destination: replica({ owner: undefined, writtenByCredmesh: false }) })).toMatchObject({
      kind: "conflict",
      reason: "drift",
    });
    expect(decide({ rule: rule("    onDelete: ignore"), source: deleted, destination: replica() })).toMatchObject({ kind: "unchanged" });
  });

  it("leaves the original alone when the deleted source was its copy", () => {
    const deletedCopy = source({ state: "deleted", origin: D, owner: D });
    expect(decide({ source: deletedCopy, destination: { state: "active", writtenByCredmesh: false } })).toMatchObject({ kind: "unchanged" });
  });

  it("never echoes credmesh's copy back to its original", () => {
    const copy = source({ origin: D, owner: D, originCloud: "azure", copiedVersion: "kv-v1", current: { versionId: "kv-v1" }, writtenByCredmesh: true });
    expect(decide({ source: copy, destination: { state: "active", writtenByCredmesh: false } })).toMatchObject({ kind: "unchanged" });
  });

  it("carries a change made to a copy back to its original", () => {
    const changedCopy = source({ origin: D, owner: D, copiedVersion: "kv-v1", current: { versionId: "v9" } });
    expect(decide({ source: changedCopy, destination: { state: "active", current: { versionId: "kv-v1" }, writtenByCredmesh: false } })).toMatchObject({
      kind: "sync",
      reason: "pair_changed",
    });
  });

  it("in a pair replicated both ways, lets a deletion of the original travel to its copy instead of resurrecting it", () => {
    const copy = source({ origin: D, owner: D, copiedVersion: "kv-v1", current: { versionId: "v9" } });
    expect(decide({ source: copy, destination: { state: "deleted", writtenByCredmesh: false }, pairCoveredBack: true })).toMatchObject({ kind: "unchanged" });
    expect(decide({ source: copy, destination: ABSENT, pairCoveredBack: true })).toMatchObject({ kind: "unchanged" });
    // Without a rule replicating back, nothing would delete the copy: recover the original.
    expect(decide({ source: copy, destination: { state: "deleted", writtenByCredmesh: false } })).toMatchObject({ kind: "sync", reason: "replica_deleted" });
  });

  it("recovers a replica deleted in a pair whose original is the source", () => {
    expect(decide({ destination: replica({ state: "deleted" }), pairCoveredBack: true })).toMatchObject({ kind: "sync", reason: "replica_deleted" });
  });

  it("tells a replica changed in the destination apart from one behind its source, and applies the drift policy as the replicator does", () => {
    const changedThere = replica({ writtenByCredmesh: false });
    expect(decide({ destination: changedThere, pairCoveredBack: true })).toMatchObject({ kind: "unchanged" });
    expect(decide({ destination: replica({ writtenByCredmesh: false, copiedVersion: "v1" }), pairCoveredBack: true })).toMatchObject({
      kind: "sync",
      reason: "changed_on_both_sides",
    });
    // No rule carries the change back: drift.
    expect(decide({ destination: changedThere })).toMatchObject({ kind: "sync", reason: "drift" });
    expect(decide({ rule: rule("    onDrift: keep"), destination: changedThere })).toMatchObject({ kind: "conflict", reason: "drift" });
  });
});

describe("decideUnclaimed", () => {
  const facts = { destinationCloud: "azure" as const, replica: replica(), rule: rule(), sourceListed: false, sourcePlaceListed: true };

  it("soft-deletes a replica whose source vanished from a complete listing", () => {
    expect(decideUnclaimed(facts)).toMatchObject({ kind: "delete", reason: "source_gone" });
  });

  it("reports an orphan when no rule writes the source here, or it maps to another name now", () => {
    expect(decideUnclaimed({ ...facts, rule: undefined })).toMatchObject({ kind: "orphan", reason: "no_rule" });
    expect(decideUnclaimed({ ...facts, sourceListed: true })).toMatchObject({ kind: "orphan", reason: "not_the_mapped_name" });
  });

  it("cannot prove a source gone in a place it did not list", () => {
    expect(decideUnclaimed({ ...facts, sourcePlaceListed: false })).toMatchObject({ kind: "unverifiable" });
  });

  it("ignores unmanaged, deleted and rule-kept secrets", () => {
    expect(decideUnclaimed({ ...facts, replica: { state: "active", writtenByCredmesh: false } })).toMatchObject({ kind: "unchanged" });
    expect(decideUnclaimed({ ...facts, replica: replica({ state: "deleted" }) })).toMatchObject({ kind: "unchanged" });
    expect(decideUnclaimed({ ...facts, rule: rule("    onDelete: ignore") })).toMatchObject({ kind: "unchanged" });
  });
});

describe("listedSide", () => {
  const tags = {
    "managed-by": "credmesh",
    "credmesh-origin": "aws",
    "credmesh-origin-account": "123456789012",
    "credmesh-origin-region": "us-east-1",
    "credmesh-origin-name": "prod/db",
  };
  const stamp = encodeStamp({ originCloud: "aws", originVersion: "v2", originCreatedAt: undefined, mutation: "0123456789abcdef" });

  it("reads credmesh's copy from the current version's write stamp, whatever the vault keeps tags on", () => {
    expect(listedSide(false, { name: "x", state: "active", currentVersionId: stamp, currentStamp: stamp, tags })).toMatchObject({
      writtenByCredmesh: true,
      origin: S,
      owner: S,
      copiedVersion: "v2",
    });
    expect(listedSide(false, { name: "x", state: "active", currentVersionId: "v3", currentStamp: "v3", tags })).toMatchObject({ writtenByCredmesh: false, origin: S });
    expect(listedSide(true, { name: "x", state: "active", currentStamp: stamp, tags })).toMatchObject({ writtenByCredmesh: true, origin: S, owner: S });
  });

  it("falls back to the newest tagged version where tags are per version", () => {
    const earlier = [{ versionId: "k1", tags: { ...tags, "credmesh-origin-version": "v1" } }];
    const untagged = listedSide(true, { name: "x", state: "active", tags: {} }, { currentVersionId: "c", earlier });
    expect(untagged).toEqual({ state: "active", current: { versionId: "c", createdAt: undefined }, tags: {}, origin: S, originCloud: "aws", copiedVersion: "v1", writtenByCredmesh: false });
  });

  it("reads deleted and absent secrets", () => {
    expect(listedSide(true, { name: "x", state: "deleted", tags })).toMatchObject({ state: "deleted", owner: S, writtenByCredmesh: false });
    expect(listedSide(false, undefined)).toEqual(ABSENT);
  });
});
