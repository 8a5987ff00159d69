import { IDENTITY_WATCHER_DURABLES, LIFECYCLE_CERTIFICATE_FILTER, STREAMS, observationFilters } from "@credmesh/bus-names";
import type { NatsConnection } from "@credmesh/bus";
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, jetstreamManager, type ConsumerConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";

/** Deliveries of a watcher message before it is given up (only retryable failures are retried). */
export const WATCHER_MAX_DELIVER = 50;
export const WATCHER_ACK_WAIT_MS = 30_000;

/**
 * The watcher's durable consumers, created or updated at boot (idempotent): Key Vault certificate
 * lifecycle events, and the replicators' observations (clock_skew, access_denied) — never the
 * watcher's own events. Durable, so a restart resumes where the last acknowledgement left off.
 */
export async function ensureWatcherConsumers(nc: NatsConnection): Promise<{ stream: string; durable: string }[]> {
  const jsm = await jetstreamManager(nc);
  const base: Partial<ConsumerConfig> = {
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_deliver: WATCHER_MAX_DELIVER,
    ack_wait: nanos(WATCHER_ACK_WAIT_MS),
    max_ack_pending: 256,
  };
  const consumers = [
    { stream: STREAMS.lifecycle.name, config: { ...base, durable_name: IDENTITY_WATCHER_DURABLES.lifecycle, filter_subject: LIFECYCLE_CERTIFICATE_FILTER } },
    { stream: STREAMS.identity.name, config: { ...base, durable_name: IDENTITY_WATCHER_DURABLES.observations, filter_subjects: observationFilters() } },
  ];
  for (const { stream, config } of consumers) {
    try {
      await jsm.consumers.info(stream, config.durable_name);
      await jsm.consumers.update(stream, config.durable_name, config);
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) throw error;
      await jsm.consumers.add(stream, config);
    }
  }
  return consumers.map(({ stream, config }) => ({ stream, durable: config.durable_name }));
}
