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
import type { Logger } from "@credmesh/logging";
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

/** A stream whose configuration differs from this release's, field by field (names only). */
export interface StreamDrift {
  stream: string;
  fields: string[];
}

/** What {@link ensureStreams} did: streams created, changed (with `update`), and left differing. */
export interface StreamsOutcome {
  created: string[];
  /** Missing streams left missing (`create: false`). */
  missing: string[];
  updated: StreamDrift[];
  differing: StreamDrift[];
}

/** The fields credmesh sets on its streams; any other field is the operator's to change. */
const MANAGED_FIELDS = ["subjects", "num_replicas", "duplicate_window", "max_age", "storage", "discard", "retention"] as const;

/**
 * Makes sure every credmesh stream exists: a missing one is created with this release's
 * configuration (safe from every process at every start, concurrently too). An existing stream is
 * changed only with `update: true` — the bus admin's job (`credmesh provision`), since a service's
 * role may create streams but never change or delete them, so a stolen service credential cannot
 * shorten retention or redirect subjects. Differences left in place are logged.
 */
export async function ensureStreams(
  nc: NatsConnection,
  settings: StreamSettings = DEFAULT_STREAM_SETTINGS,
  options: { update?: boolean; create?: boolean; logger?: Pick<Logger, "warn" | "info"> } = {},
): Promise<StreamsOutcome> {
  const jsm = await jetstreamManager(nc);
  const outcome: StreamsOutcome = { created: [], missing: [], updated: [], differing: [] };
  for (const config of Object.values(streamConfigs(settings))) {
    const existing = await infoOrCreate(jsm, config, options.create ?? true);
    if (existing === "created" || existing === "missing") {
      outcome[existing].push(config.name);
      continue;
    }
    const fields = differingFields(config, existing);
    if (fields.length === 0) continue;
    if (options.update) {
      await jsm.streams.update(config.name, config);
      outcome.updated.push({ stream: config.name, fields });
      options.logger?.info({ stream: config.name, fields }, "stream configuration updated");
    } else {
      outcome.differing.push({ stream: config.name, fields });
      options.logger?.warn({ stream: config.name, fields }, "stream configuration differs from this release's; `credmesh provision` (bus admin) applies it");
    }
  }
  return outcome;
}

/** The stream's configuration, or whether this call created it (or, not allowed to, found it missing). */
async function infoOrCreate(jsm: JetStreamManager, config: NamedStreamConfig, create: boolean): Promise<StreamConfig | "created" | "missing"> {
  try {
    return (await jsm.streams.info(config.name)).config;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  if (!create) return "missing";
  try {
    await jsm.streams.add(config);
    return "created";
  } catch (error) {
    // Another process created it between our info and add.
    if (!(error instanceof JetStreamApiError) || error.code !== STREAM_NAME_IN_USE) throw error;
    return (await jsm.streams.info(config.name)).config;
  }
}

/** Which managed fields of an existing stream differ from the wanted configuration. Pure. */
export function differingFields(wanted: NamedStreamConfig, actual: Partial<StreamConfig>): string[] {
  return MANAGED_FIELDS.filter((field) => {
    const want = wanted[field];
    const have = actual[field];
    if (want === undefined) return false;
    if (Array.isArray(want)) return !Array.isArray(have) || [...want].sort().join(" ") !== [...have].sort().join(" ");
    return want !== have;
  });
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
