import { performance } from "node:perf_hooks";
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import type { BenchMesh } from "../mesh/mesh.ts";
import { announce, changeSource, type AuditWatch, type Direction, type SourceSecret } from "../mesh/mutations.ts";
import type { TaskOutcome } from "./open-loop.ts";

/**
 * One mutation through credmesh: a new version at the source (the origin change), its event to
 * ingest, and the replicator's audit record for it (published right after the destination write).
 * Latency: from the source write's answer to the audit record's arrival.
 */
export function credmeshTask(
  mesh: BenchMesh,
  watch: AuditWatch,
  direction: Direction,
  pool: readonly SourceSecret[],
  drain: AbortSignal,
): (index: number) => Promise<TaskOutcome> {
  return async (index) => {
    const secret = pool[index % pool.length] as SourceSecret;
    await changeSource(mesh, direction, secret);
    const changedAt = performance.now();
    const eventId = await announce(mesh, direction, secret);
    const audited = await watch.wait(eventId, drain);
    return audited === undefined ? { failed: "no_audit_record_in_time" } : { latencyMs: audited.receivedAt - changedAt, decision: audited.decision };
  };
}

/** Destination secrets the floor writes (never credmesh's replicas). */
export interface FloorTargets {
  names: string[];
}

/** Creates the floor's destination secrets where a write needs an existing secret (Secrets Manager PutSecretValue). */
export async function floorTargets(mesh: BenchMesh, direction: Direction, tag: string, size: number): Promise<FloorTargets> {
  const names = Array.from({ length: size }, (_, index) =>
    direction === "aws-to-azure" ? `floor-${tag}-${String(index).padStart(5, "0")}` : `floor/${tag}-${String(index).padStart(5, "0")}`,
  );
  if (direction === "azure-to-aws") {
    for (const name of names) await mesh.sm.send(new CreateSecretCommand({ Name: name, SecretString: "floor" }));
  }
  return { names };
}

/**
 * The floor of one mutation: the same origin change, then what credmesh cannot do without — one
 * direct SDK read of the value at the source and one direct SDK write at the destination — with the
 * bench's own warm clients. Latency: from the source write's answer to the destination write's.
 */
export function floorTask(mesh: BenchMesh, direction: Direction, pool: readonly SourceSecret[], targets: FloorTargets): (index: number) => Promise<TaskOutcome> {
  return async (index) => {
    const secret = pool[index % pool.length] as SourceSecret;
    const target = targets.names[index % targets.names.length] ?? "";
    await changeSource(mesh, direction, secret);
    const changedAt = performance.now();
    await floorCopy(mesh, direction, secret, target);
    return { latencyMs: performance.now() - changedAt, decision: "written" };
  };
}

/** What replication cannot do without: one direct read of the source's version, one direct write at the destination. */
export async function floorCopy(mesh: BenchMesh, direction: Direction, secret: SourceSecret, target: string): Promise<void> {
  if (direction === "aws-to-azure") {
    const read = await mesh.sm.send(new GetSecretValueCommand({ SecretId: secret.id, VersionId: secret.version }));
    await mesh.kv.setSecret(target, read.SecretString ?? "");
  } else {
    const read = await mesh.kv.getSecret(secret.name, { version: secret.version });
    await mesh.sm.send(new PutSecretValueCommand({ SecretId: target, SecretString: read.value ?? "" }));
  }
}
