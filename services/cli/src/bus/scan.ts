import { randomUUID } from "node:crypto";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import type { StoredRecord } from "../dead-letters/record.ts";

export interface ScanOptions {
  /** Subject filter, e.g. `credmesh.dlq.azure` or `credmesh.audit.>`. */
  filter: string;
  /** First stream sequence to read; the stream's first message when absent. */
  startSeq?: number;
  /** Read at most this many messages. */
  max: number;
  timeoutMs: number;
}

export interface ScanResult {
  /** Oldest first. */
  records: StoredRecord[];
  /** Messages matching the filter from the start sequence on, when the scan began. */
  total: number;
  /** False when the bus stopped answering before `min(total, max)` messages arrived. */
  complete: boolean;
}

/**
 * Reads a range of a stream without consuming anything: an ephemeral consumer with no acks
 * (limits-retention streams keep every message whatever consumers do), sized by its own pending
 * count so the read knows where to stop, deleted afterwards (and expiring by itself if the CLI
 * dies first).
 */
export async function scanStream(nc: NatsConnection, stream: string, options: ScanOptions): Promise<ScanResult> {
  const jsm = await jetstreamManager(nc, { timeout: options.timeoutMs });
  const created = await jsm.consumers.add(stream, {
    // Named, so the create request names the consumer and its filter in its subject — what the
    // operator's bus identity is allowed (`$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`).
    name: `credmesh-cli-${randomUUID()}`,
    ack_policy: AckPolicy.None,
    deliver_policy: options.startSeq === undefined ? DeliverPolicy.All : DeliverPolicy.StartSequence,
    ...(options.startSeq === undefined ? {} : { opt_start_seq: options.startSeq }),
    filter_subject: options.filter,
    inactive_threshold: nanos(60_000),
    mem_storage: true,
    num_replicas: 1,
  });
  try {
    const total = created.num_pending;
    const wanted = Math.min(total, options.max);
    const consumer = await jetstream(nc, { timeout: options.timeoutMs }).consumers.get(stream, created.name);
    const records: StoredRecord[] = [];
    while (records.length < wanted) {
      const batch = await consumer.fetch({ max_messages: Math.min(wanted - records.length, 256), expires: Math.max(1_000, options.timeoutMs) });
      let received = 0;
      for await (const msg of batch) {
        records.push({ seq: msg.seq, subject: msg.subject, time: msg.time, data: msg.data });
        received++;
      }
      // Messages deleted or expired while we read: stop instead of waiting for them.
      if (received === 0) break;
    }
    return { records, total, complete: records.length >= wanted };
  } finally {
    await jsm.consumers.delete(stream, created.name).catch(() => false);
  }
}
