import { jetstream, type JetStreamClient, type PubAck } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { CredmeshError } from "@credmesh/errors";
import { encodeEvent, partitionOfEvent, type LifecycleEvent, type MutationEvent } from "@credmesh/events";
import type { Metrics } from "@credmesh/metrics";
import { DEFAULT_PARTITIONS, STREAMS, lifecycleSubject, mutationSubject } from "@credmesh/bus-names";

export interface PublishResult {
  subject: string;
  stream: string;
  seq: number;
  /** JetStream already had a message with this id inside the duplicate window. */
  duplicate: boolean;
}

export interface PublisherOptions {
  /** Upper bound on waiting for the JetStream acknowledgement. */
  timeoutMs: number;
  partitions?: number;
  metrics?: Pick<Metrics, "busPublishDuration">;
}

/**
 * Publishes to JetStream and resolves only once the stream acknowledged the message. Message ids
 * come from the sender's event id, so a retried webhook delivery is stored once.
 */
export class BusPublisher {
  readonly #js: JetStreamClient;
  readonly #options: PublisherOptions;

  constructor(nc: NatsConnection, options: PublisherOptions) {
    this.#js = jetstream(nc);
    this.#options = options;
  }

  /** Publishes a mutation on its destination's partition subject, with the event id as message id. */
  async publishMutation(event: MutationEvent): Promise<PublishResult> {
    const partition = partitionOfEvent(event, this.#options.partitions ?? DEFAULT_PARTITIONS);
    const subject = mutationSubject(event.data.destination.cloud, partition);
    const h = headers();
    h.set("ce-type", event.type);
    h.set("ce-id", event.id);
    h.set("credmesh-correlation-id", event.correlationid);
    return this.#publish(STREAMS.mutations.name, subject, encodeEvent(event), event.id, h);
  }

  /** Publishes a lifecycle event on `credmesh.lifecycle.<object>.<kind>`, its id as message id. */
  async publishLifecycle(event: LifecycleEvent): Promise<PublishResult> {
    const subject = lifecycleSubject(event.data.objectType, event.data.kind);
    const h = headers();
    h.set("ce-type", event.type);
    h.set("ce-id", event.id);
    return this.#publish(STREAMS.lifecycle.name, subject, new TextEncoder().encode(JSON.stringify(event)), event.id, h);
  }

  /** Publishes a secret-free JSON record (dead letter, audit) on `subject`. */
  async publishRecord(stream: string, subject: string, record: unknown, msgId?: string): Promise<PublishResult> {
    return this.#publish(stream, subject, new TextEncoder().encode(JSON.stringify(record)), msgId);
  }

  async #publish(
    stream: string,
    subject: string,
    payload: Uint8Array,
    msgId: string | undefined,
    h?: ReturnType<typeof headers>,
  ): Promise<PublishResult> {
    const stop = this.#options.metrics?.busPublishDuration.startTimer({ stream });
    let ack: PubAck;
    try {
      ack = await this.#js.publish(subject, payload, {
        ...(msgId === undefined ? {} : { msgID: msgId }),
        ...(h === undefined ? {} : { headers: h }),
        timeout: this.#options.timeoutMs,
        expect: { streamName: stream },
      });
    } catch (error) {
      // Every publish failure (no responders, timeout, closed connection, stream full) means the
      // bus does not have the message; the caller must let the sender retry.
      throw new CredmeshError("bus_unavailable", `publish to ${subject} was not acknowledged`, { cause: error });
    } finally {
      stop?.();
    }
    return { subject, stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
  }
}
