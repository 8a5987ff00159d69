import { STREAMS } from "@credmesh/bus-names";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

type BusStateMetrics = Pick<Metrics, "streamMessages" | "streamBytes" | "streamConsumers" | "consumerPending" | "consumerAckPending" | "consumerRedelivered">;

export interface BusStateReporter {
  /** One collection now (also what the interval runs); never throws. */
  collect(): Promise<void>;
  stop(): void;
}

/**
 * Reports the state of credmesh's streams (messages, bytes, consumers) and of every consumer on them
 * (pending, ack pending, redelivered) as gauges, from the JetStream API, every `intervalMs`. Every
 * service runs one, so whichever services a cluster runs, its Prometheus sees the bus (dashboards
 * take the max over instances). prometheus-nats-exporter adds the servers' own metrics where it
 * runs (compose, the nats chart); this needs nothing but credmesh's own connection.
 */
export function reportBusState(nc: NatsConnection, metrics: BusStateMetrics, logger: Logger, options: { intervalMs?: number; timeoutMs?: number } = {}): BusStateReporter {
  let jsm: JetStreamManager | undefined;
  let running: Promise<void> | undefined;
  let failing = false;
  const collect = async (): Promise<void> => {
    try {
      jsm ??= await jetstreamManager(nc, { timeout: options.timeoutMs ?? 5_000 });
      for (const { name } of Object.values(STREAMS)) {
        let info;
        try {
          info = await jsm.streams.info(name);
        } catch {
          // Not created yet (a service creates the streams at its boot): nothing to report for it.
          continue;
        }
        metrics.streamMessages.set({ stream: name }, info.state.messages);
        metrics.streamBytes.set({ stream: name }, info.state.bytes);
        metrics.streamConsumers.set({ stream: name }, info.state.consumer_count);
        for await (const consumer of jsm.consumers.list(name)) {
          metrics.consumerPending.set({ consumer: consumer.name }, consumer.num_pending);
          metrics.consumerAckPending.set({ stream: name, consumer: consumer.name }, consumer.num_ack_pending);
          metrics.consumerRedelivered.set({ stream: name, consumer: consumer.name }, consumer.num_redelivered);
        }
      }
      if (failing) logger.info("bus state is reported again");
      failing = false;
    } catch (error) {
      // Logged once per outage: the bus's own readiness check says more.
      if (!failing) logger.warn({ err: error }, "bus state could not be read; stream and consumer gauges keep their last values");
      failing = true;
    }
  };
  const tick = () => {
    running ??= collect().finally(() => (running = undefined));
  };
  const timer = setInterval(tick, options.intervalMs ?? 15_000);
  timer.unref();
  tick();
  return {
    collect: () => (running ??= collect().finally(() => (running = undefined))),
    stop: () => clearInterval(timer),
  };
}
