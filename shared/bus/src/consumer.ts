import { jetstream, type Consumer, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { CredmeshError, abortError, toCredmeshError } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { KeyedExecutor } from "./keyed-executor.ts";
import { settle } from "./settlement.ts";

export type { JsMsg } from "@nats-io/jetstream";

export interface ConsumerRunOptions {
  stream: string;
  /** The durable consumers to pull from (one per partition); all share one executor. */
  durables: readonly string[];
  /** Priority group to pull in (pinned-client consumers); omitted for plain consumers. */
  group?: string;
  /** Messages handled at once; messages with the same key never run concurrently. */
  concurrency: number;
  /** Must match the consumer's max_deliver, so the last delivery dead-letters instead of vanishing. */
  maxDeliver: number;
  /** The consumer's ack wait; long handlers signal progress at a third of it. */
  ackWaitMs: number;
  /**
   * How long one handler may run. Its signal aborts then, progress signals stop, and the message
   * settles as a retryable `timeout` even if the handler ignored the signal, so no worker is held
   * by a hung call. Keep it below the ack wait and the secret lease.
   */
  deadlineMs: number;
  /** Ordering key of a message (the secret it concerns). */
  keyOf: (msg: JsMsg) => string;
  /**
   * Does the work; throws a CredmeshError to have the message retried or dead-lettered. `signal`
   * aborts when the deadline passes: every wait and cloud call the handler makes must honour it.
   */
  handle: (msg: JsMsg, signal: AbortSignal) => Promise<void>;
  /**
   * Runs each attempt of the handler, and may hold the message between attempts (the quarantine
   * gate does: while the cell may not use its identity, the message waits, signalling progress,
   * and runs again after the release). Each attempt gets a fresh deadline; a wait between
   * attempts is not work and has none. Without it, the handler runs once.
   */
  hold?: (attempt: () => Promise<void>) => Promise<void>;
  /**
   * Records a message that will not be retried. Must resolve only once the record is durable;
   * if it throws, the message is nak'ed instead of terminated, so nothing is lost.
   */
  deadLetter: (msg: JsMsg, error: CredmeshError) => Promise<void>;
  /** Called after a nak, for metrics. */
  onRetry?: (msg: JsMsg, error: CredmeshError, delayMs: number) => void;
  logger: Logger;
  metrics?: Pick<Metrics, "consumerStatus" | "consumerPending">;
}

export interface RunningConsumer {
  /** Stops pulling, lets in-flight messages finish and settle, then resolves. */
  stop(): Promise<void>;
  /**
   * Stops pulling without stopping: no new pull request is sent, so the server delivers nothing
   * more to this process (its pins move to other replicas after the pin timeout) and no message is
   * delivered again and again while the process cannot work. Messages already received still reach
   * the handler, and keep signalling progress until they settle. Idempotent.
   */
  pause(): Promise<void>;
  /** Pulls again after {@link pause}. Idempotent. */
  resume(): Promise<void>;
  /** Resolves once {@link stop} has let every in-flight message settle. */
  readonly done: Promise<void>;
}

/**
 * How long one pull request lives on the server. The server sends idle heartbeats at half of it,
 * and the client pulls anew after two missed heartbeats: when a consumer's leader dies (a node
 * killed) its pending pulls die with it without a word, so this bounds how long a partition stalls
 * after its consumer leader moved (about 5 s, instead of the client's default 30 s).
 */
const PULL_EXPIRES_MS = 5_000;

/**
 * Pulls from durable consumers and settles every message exactly once through {@link settle}:
 * never log-and-ack. Messages of one key (one secret) never run concurrently, across all the
 * consumers of this process. Watches the client's typed status notifications and turns them into
 * logs and metrics.
 */
export async function runConsumer(nc: NatsConnection, options: ConsumerRunOptions): Promise<RunningConsumer> {
  const executor = new KeyedExecutor(options.concurrency);
  const js = jetstream(nc);
  const timers: NodeJS.Timeout[] = [];
  // Replicas started together pull the partitions in different orders, so the server's pins
  // spread over them instead of all landing on whichever replica asked first.
  const consumers: Array<{ durable: string; consumer: Consumer }> = [];
  for (const durable of shuffled(options.durables)) {
    const consumer = await js.consumers.get(options.stream, durable);
    consumers.push({ durable, consumer });
    if (options.metrics) {
      const timer = setInterval(() => {
        consumer
          .info(true)
          .then((info) => options.metrics?.consumerPending.set({ consumer: durable }, info.num_pending))
          .catch(() => undefined);
      }, 5_000);
      timer.unref();
      timers.push(timer);
    }
  }
  let loops: Array<{ messages: ConsumerMessages; done: Promise<void> }> = [];
  let paused = false;
  let stopped = false;
  // Settles when a pause begins, so a loop waiting for room stops waiting and drains.
  let pausing = Promise.withResolvers<void>();
  const start = async (): Promise<void> => {
    loops = [];
    for (const { durable, consumer } of consumers) {
      const messages = await consumer.consume({
        max_messages: Math.max(Math.ceil((options.concurrency * 2) / options.durables.length), 4),
        expires: PULL_EXPIRES_MS,
        ...(options.group ? { group: options.group } : {}),
      });
      void watchStatus(messages, durable, options);
      const done = pull(messages, executor, options, () => (paused ? undefined : pausing.promise)).catch((error: unknown) => {
        options.logger.error({ err: error, consumer: durable }, "consume loop ended");
      });
      loops.push({ messages, done });
    }
  };
  const closeLoops = async (): Promise<void> => {
    const current = loops;
    await Promise.all(current.map((loop) => loop.messages.close()));
    await Promise.all(current.map((loop) => loop.done));
  };
  await start();
  let ended: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    ended = resolve;
  });
  return {
    done,
    async pause() {
      if (paused || stopped) return;
      paused = true;
      pausing.resolve();
      await closeLoops();
    },
    async resume() {
      if (!paused || stopped) return;
      paused = false;
      pausing = Promise.withResolvers<void>();
      await start();
    },
    async stop() {
      if (stopped) return done;
      stopped = true;
      pausing.resolve();
      for (const timer of timers) clearInterval(timer);
      await closeLoops();
      await executor.idle();
      ended();
      return done;
    },
  };
}

/**
 * One consume loop. `pausing()` is undefined once the process paused (or stops): the loop then only
 * drains what the client already received; otherwise it settles when a pause begins.
 */
async function pull(messages: ConsumerMessages, executor: KeyedExecutor, options: ConsumerRunOptions, pausing: () => Promise<void> | undefined): Promise<void> {
  for await (const msg of messages) {
    let key: string;
    try {
      key = options.keyOf(msg);
    } catch {
      key = `seq:${msg.seq}`;
    }
    // Signal progress from arrival on, not from the start of processing: a message queued
    // behind others of the same secret must not be redelivered while it waits its turn. Every
    // message ahead of it is bounded by the deadline, so the wait is too; once processing
    // ends — at the latest when its deadline passes — progress stops.
    const progress = setInterval(() => msg.working(), Math.max(1_000, Math.floor(options.ackWaitMs / 3)));
    void executor.submit(key, () => process(msg, options).finally(() => clearInterval(progress)));
    // Back-pressure: stop pulling while many messages are queued behind the running ones. A
    // paused loop only drains what the client already received, so it hands everything over at
    // once (each message signalling progress) rather than leaving some to be redelivered.
    const pause = pausing();
    if (pause) await Promise.race([executor.waitForRoom(options.concurrency * 4), pause]);
  }
}

/**
 * The work's result, or the deadline's `timeout` as soon as `signal` aborts, whichever comes
 * first: a handler that ignores its signal cannot hold a worker past the deadline.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        // Aborted calls may fail with a foreign abort error; report the deadline's reason instead.
        reject(error instanceof CredmeshError ? error : signal.aborted ? abortError(signal) : toCredmeshError(error));
      },
    );
  });
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index--) {
    const other = Math.floor(Math.random() * (index + 1));
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
}

async function process(msg: JsMsg, options: ConsumerRunOptions): Promise<void> {
  let failure: unknown;
  const attempt = async (): Promise<void> => {
    const deadline = AbortSignal.timeout(options.deadlineMs);
    await untilAborted(options.handle(msg, deadline), deadline);
  };
  try {
    await (options.hold ? options.hold(attempt) : attempt());
  } catch (error) {
    failure = error;
  }
  const outcome = settle(failure, msg.info.deliveryCount, options.maxDeliver);
  switch (outcome.verb) {
    case "ack":
      // ackAck waits for the server, so a crash right after a write cannot redeliver silently.
      await msg.ackAck().catch((error: unknown) => options.logger.warn({ err: error, seq: msg.seq }, "ack not confirmed"));
      return;
    case "nak":
      msg.nak(outcome.delayMs);
      options.onRetry?.(msg, outcome.error, outcome.delayMs);
      return;
    case "term":
      try {
        await options.deadLetter(msg, outcome.error);
      } catch (error) {
        options.logger.error({ err: error, seq: msg.seq }, "dead letter not recorded; message will be redelivered");
        msg.nak(5_000);
        return;
      }
      msg.term(outcome.error.reason);
  }
}

async function watchStatus(messages: ConsumerMessages, durable: string, options: ConsumerRunOptions): Promise<void> {
  for await (const status of messages.status()) {
    if (status.type === "heartbeat" || status.type === "next" || status.type === "debug") continue;
    options.metrics?.consumerStatus.inc({ consumer: durable, status: status.type });
    options.logger[statusLevel(status.type)]({ consumer: durable, status: status.type }, "consumer status");
  }
}

/**
 * How loud a status is. `discard` is a pull request that expired with room left (every few
 * seconds while idle) and `consumer_pinned`/`unpinned` the partition moving between replicas;
 * `heartbeats_missed` means the pull died with its consumer leader and the client pulls again
 * from the new one.
 */
function statusLevel(type: string): "debug" | "info" | "warn" | "error" {
  switch (type) {
    case "consumer_deleted":
    case "stream_not_found":
      return "error";
    case "consumer_pinned":
    case "consumer_unpinned":
      return "info";
    case "discard":
      return "debug";
    default:
      return "warn";
  }
}
