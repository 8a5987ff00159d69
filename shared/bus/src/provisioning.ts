import {
  AckPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstreamManager,
  type ConsumerConfig,
  type PriorityPolicy,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { busReachable } from "./connection.ts";
import type { StreamPlacement } from "./placement.ts";
import { REPLICA_GROUP, STREAMS, mutationSubject, replicatorDurable, type Cloud, type StreamKey } from "@credmesh/bus-names";

export interface StreamSettings {
  /** R1 locally, R3 on a production cluster. */
  replicas: number;
  /** How long JetStream remembers message ids for deduplication. */
  duplicateWindowMs: number;
  /** How long mutation records are kept once consumed (limits retention). */
  maxAgeMs: number;
}

export const DEFAULT_STREAM_SETTINGS: StreamSettings = {
  replicas: 1,
  duplicateWindowMs: 10 * 60_000,
  maxAgeMs: 7 * 24 * 3_600_000,
};

/** The stream definitions credmesh owns, derived from the names module. */
type NamedStreamConfig = Partial<StreamConfig> & { name: string };

export function streamConfigs(settings: StreamSettings): Record<StreamKey, NamedStreamConfig> {
  const base = {
    storage: StorageType.File,
    num_replicas: settings.replicas,
    discard: DiscardPolicy.Old,
    retention: RetentionPolicy.Limits,
  };
  return {
    mutations: {
      ...base,
      name: STREAMS.mutations.name,
      subjects: [...STREAMS.mutations.subjects],
      duplicate_window: nanos(settings.duplicateWindowMs),
      max_age: nanos(settings.maxAgeMs),
    },
    deadLetters: {
      ...base,
      name: STREAMS.deadLetters.name,
      subjects: [...STREAMS.deadLetters.subjects],
      duplicate_window: nanos(settings.duplicateWindowMs),
      // Dead letters wait for a person; keep them for 30 days.
      max_age: nanos(30 * 24 * 3_600_000),
    },
    audit: {
      ...base,
      name: STREAMS.audit.name,
      subjects: [...STREAMS.audit.subjects],
      // Audit records carry ids derived from the decision: a redelivered mutation that decides
      // the same again is recorded once.
      duplicate_window: nanos(settings.duplicateWindowMs),
      max_age: nanos(settings.maxAgeMs),
    },
    lifecycle: {
      ...base,
      name: STREAMS.lifecycle.name,
      subjects: [...STREAMS.lifecycle.subjects],
      // Event Grid ids deduplicate retried deliveries, like mutations.
      duplicate_window: nanos(settings.duplicateWindowMs),
      max_age: nanos(settings.maxAgeMs),
    },
    identity: {
      ...base,
      name: STREAMS.identity.name,
      subjects: [...STREAMS.identity.subjects],
      // Publishers derive message ids from the cell, source and minute: one event per minute per cause.
      duplicate_window: nanos(settings.duplicateWindowMs),
      max_age: nanos(settings.maxAgeMs),
    },
  };
}

/**
 * Creates or updates every credmesh stream so that its configuration matches ours. Safe to run
 * from every process at every start (idempotent), which is what each service does. An existing
 * stream keeps its replica count: scaling a live stream is an operator's decision, and a stream
 * whose count differs from ours is reported by {@link StreamPlacement} instead.
 */
export async function ensureStreams(nc: NatsConnection, settings: StreamSettings = DEFAULT_STREAM_SETTINGS): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const config of Object.values(streamConfigs(settings))) {
    await upsertStream(jsm, config);
  }
}

async function upsertStream(jsm: JetStreamManager, config: NamedStreamConfig): Promise<void> {
  const name = config.name;
  try {
    const existing = await jsm.streams.info(name);
    await jsm.streams.update(name, { ...config, num_replicas: existing.config.num_replicas });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    try {
      await jsm.streams.add(config);
    } catch (addError) {
      // Another process created it between our info and add: converge with an update.
      if (!(addError instanceof JetStreamApiError) || addError.code !== STREAM_NAME_IN_USE) throw addError;
      const existing = await jsm.streams.info(name);
      await jsm.streams.update(name, { ...config, num_replicas: existing.config.num_replicas });
    }
  }
}

export interface ReplicatorConsumerSettings {
  /** Deliveries before a message is dead-lettered by the replicator. */
  maxDeliver: number;
  /** Time a replicator has to finish (or signal progress on) a message before redelivery. */
  ackWaitMs: number;
  /** In-flight messages per partition across all replicas of this destination. */
  maxAckPending: number;
  /** A partition's pin moves to another replica after its pinned replica stopped pulling this long. */
  pinTimeoutMs: number;
}

export const DEFAULT_CONSUMER_SETTINGS: ReplicatorConsumerSettings = {
  maxDeliver: 10,
  ackWaitMs: 30_000,
  maxAckPending: 64,
  pinTimeoutMs: 15_000,
};

/**
 * The durable pull consumer of one partition of a destination. Per-secret ordering across
 * replicas: a secret always maps to the same partition, and the pinned-client priority policy
 * delivers a partition to exactly one replica at a time; when that replica dies (stops pulling
 * for `pinTimeoutMs`), the server pins another and unacknowledged messages are redelivered.
 */
export function replicatorConsumerConfig(destination: Cloud, partition: number, settings: ReplicatorConsumerSettings): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: replicatorDurable(destination, partition),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: mutationSubject(destination, partition),
    max_deliver: settings.maxDeliver,
    ack_wait: nanos(settings.ackWaitMs),
    max_ack_pending: settings.maxAckPending,
    priority_groups: [REPLICA_GROUP],
    priority_policy: "pinned_client" satisfies PriorityPolicy,
    priority_timeout: nanos(settings.pinTimeoutMs),
  };
}

/**
 * Creates or updates the partition consumers of a destination (idempotent like
 * {@link ensureStreams}) and removes the single destination-wide consumer of earlier releases,
 * whose messages would otherwise be delivered twice.
 */
export async function ensureReplicatorConsumers(
  nc: NatsConnection,
  destination: Cloud,
  partitions: number,
  settings: ReplicatorConsumerSettings = DEFAULT_CONSUMER_SETTINGS,
): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const stream = STREAMS.mutations.name;
  const durables: string[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    const config = replicatorConsumerConfig(destination, partition, settings);
    try {
      await jsm.consumers.info(stream, config.durable_name);
      await jsm.consumers.update(stream, config.durable_name, config);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await jsm.consumers.add(stream, config);
    }
    durables.push(config.durable_name);
  }
  try {
    await jsm.consumers.delete(stream, replicatorDurable(destination));
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return durables;
}

/**
 * The bus part of /readyz: connected (a live round trip), and every stream and KV bucket the
 * service uses present with the configured replicas ({@link StreamPlacement}; streams are only
 * asked for when the bus answers, otherwise the check would wait out the API timeout).
 */
export function busReadinessChecks(nc: NatsConnection, placement: StreamPlacement): { bus: () => Promise<boolean>; streams: () => Promise<{ ok: boolean; detail?: string }> } {
  return {
    bus: () => busReachable(nc),
    streams: () => placement.readiness(),
  };
}

/** Every credmesh stream's name (the streams each service checks, besides its KV buckets). */
export function credmeshStreamNames(): string[] {
  return Object.values(STREAMS).map((stream) => stream.name);
}

/** JetStream API error code for "stream name already in use" (not exported by the client). */
const STREAM_NAME_IN_USE = 10058;

function isNotFound(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamNotFound || error.code === JetStreamApiCodes.ConsumerNotFound)
  );
}
