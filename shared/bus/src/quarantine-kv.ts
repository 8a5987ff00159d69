import { KV_BUCKETS, cellKey } from "@credmesh/bus-names";
import { decodeQuarantineRecord, type QuarantineRecord } from "@credmesh/events";
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

export type { KV, KvEntry } from "@nats-io/kv";

/**
 * Opens (creating if needed) the quarantine bucket: one key per cell, whose value is the cell's
 * quarantine record. Every process opens it with the same settings, so creating is idempotent.
 * History keeps the last transitions for `nats kv history`.
 *
 * On a cluster, KV reads are "direct gets" that any replica of the bucket may answer, possibly
 * one that is behind. The writer (the identity-watcher decides "already quarantined" from what
 * it reads) asks for `leaderReads`: its reads go to the bucket's leader, which has every
 * acknowledged write. Readers that only follow the state (the replicators' gates) read anywhere
 * and never let the state go back in time (revisions).
 */
export async function openQuarantineBucket(nc: NatsConnection, replicas: number, options: { leaderReads?: boolean } = {}): Promise<KV> {
  const kvm = new Kvm(nc);
  const kv = await kvm.create(KV_BUCKETS.quarantine, {
    history: 16,
    replicas,
    description: "credmesh: quarantine state per cell (written by the identity-watcher, watched by the replicators)",
  });
  return options.leaderReads ? kvm.open(KV_BUCKETS.quarantine, { allow_direct: false }) : kv;
}

/** A cell's record as stored: undefined when the cell was never quarantined (or the key was removed). */
export function quarantineOf(entry: KvEntry | null): { record: QuarantineRecord | undefined; revision: number } {
  if (entry === null) return { record: undefined, revision: 0 };
  if (entry.operation !== "PUT") return { record: undefined, revision: entry.revision };
  return { record: decodeQuarantineRecord(entry.value), revision: entry.revision };
}

/** Reads a cell's current record. Throws InvalidEventError for a value that is not a record. */
export async function readQuarantine(kv: KV, cell: string): Promise<{ record: QuarantineRecord | undefined; revision: number }> {
  return quarantineOf(await kv.get(cellKey(cell)));
}
