import { jetstream, type JetStreamClient, type PubAck } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { CredmeshError, retryDelayMs, sleep, type BackoffPolicy } from "@credmesh/errors";
import { encodeEvent, partitionOfEvent, type LifecycleEvent, type MutationEvent } from "@credmesh/events";
import type { Metrics } from "@credmesh/metrics";
import { DEFAULT_PARTITIONS, STREAMS, lifecycleSubject, mutationSubject } from "@credmesh/bus-names";
import { isTransientBusFailure } from "./transient.ts";

export interface PublishResult {
  subject: string;
  stream: string;
  seq: number;
  /** JetStream already had a message with this id inside the duplicate window. */
  duplicate: boolean;
}

export interface PublisherOptions {
  /** Upper bound on waiting for the JetStream acknowledgement of one attempt. */
  timeoutMs: number;
  /**
   * How long a publish keeps trying (same message id, so JetStream stores it once) while the bus
   * cannot take it — a stream leader being elected, the client reconnecting to another node —
   * before it fails as `bus_unavailable`. 0 (the default): one attempt. Set it to what the sender
   * waits for an answer, so a leader election is ridden out inside one delivery.
   */
  retryWindowMs?: number;
  partitions?: number;
  metrics?: Pick<Metrics, "busPublishDuration" | "busPublishRetries">;
}

/** Pauses between attempts: short, since an election ends within seconds and the sender is waiting. */
const RETRY_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 1_000 };
/** The shortest attempt: the last one, started as the window ends, still gets this long. */
const MIN_ATTEMPT_MS = 100;

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
    const windowEnds = Date.now() + (this.#options.retryWindowMs ?? 0);
    let ack: PubAck;
    try {
      for (let attempt = 1; ; attempt++) {
        const timeout = Math.max(MIN_ATTEMPT_MS, Math.min(this.#options.timeoutMs, windowEnds - Date.now()));
        try {
          ack = await this.#js.publish(subject, payload, {
            ...(msgId === undefined ? {} : { msgID: msgId }),
            ...(h === undefined ? {} : { headers: h }),
            timeout,
            expect: { streamName: stream },
          });
          break;
        } catch (error) {
          // Every publish failure (no responders, timeout, closed connection, stream full, an earlier
          // attempt still being proposed) means the bus does not have the message yet (or, after a
          // timeout, may have it: the retry's message id finds it). A refusal by JetStream itself
          // (4xx: wrong stream, message too large) would be refused again, so it is not retried.
          const unavailable = new CredmeshError("bus_unavailable", `publish to ${subject} was not acknowledged`, { cause: error });
          if (!isTransientBusFailure(error)) throw unavailable;
          // Tried until the window is spent, not given up while the sender still waits: the last
          // pause ends with the window, and one more attempt (MIN_ATTEMPT_MS) follows it.
          const left = windowEnds - Date.now();
          if (left <= 0) throw unavailable;
          this.#options.metrics?.busPublishRetries.inc({ stream });
          await sleep(Math.min(retryDelayMs(attempt, RETRY_BACKOFF), left));
        }
      }
    } finally {
      stop?.();
    }
    return { subject, stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
  }
}
