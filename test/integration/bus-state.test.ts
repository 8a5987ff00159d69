import { BusPublisher, ensureReplicatorConsumers, ensureStreams, reportBusState } from "@credmesh/bus";
import { DEFAULT_PARTITIONS, REPLICA_GROUP, STREAMS, replicatorDurable } from "@credmesh/bus-names";
import type { BusRole } from "@credmesh/bus-roles";
import { buildMutationEvent, partitionOfEvent } from "@credmesh/events";
import { createLogger } from "@credmesh/logging";
import { createMetrics } from "@credmesh/metrics";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, type NatsPart } from "../support/parts.ts";

/**
 * The stream and consumer gauges every service reports (@credmesh/bus reportBusState), against a
 * real nats-server: exact counts of what was published, delivered and left unacknowledged.
 */
const CELL = "bus-state-azure-1";
/** Every service reports the gauges, each with its own bus identity (@credmesh/bus-roles). */
const REPORTERS: BusRole[] = [{ kind: "ingest" }, { kind: "replicator", destination: "azure", cell: CELL }, { kind: "identity-watcher" }];

describe("bus state gauges", () => {
  let nats: NatsPart;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNats({ deployment: { partitions: DEFAULT_PARTITIONS, replicators: [{ destination: "azure", cell: CELL }] } });
    nc = await nats.connect();
    await ensureStreams(nc);
    await ensureReplicatorConsumers(nc, "azure", DEFAULT_PARTITIONS);
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("reports messages and consumers per stream, and pending / ack pending per consumer, as JetStream counts them", async () => {
    const publisher = new BusPublisher(nc, { timeoutMs: 5_000 });
    const events = Array.from({ length: 5 }, (_, index) =>
      buildMutationEvent({
        id: `bus-state-${index}`,
        data: {
          kind: "upsert",
          rule: "aws-to-azure",
          destination: { cloud: "azure" },
          origin: { cloud: "aws", account: "123456789012", region: "us-east-1", secretId: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/a-AbCdEf", secretName: "prod/a" },
          trigger: { source: "aws.eventbridge", eventId: `bus-state-${index}`, eventName: "PutSecretValue", eventTime: "2025-06-02T14:03:11Z" },
        },
      }),
    );
    for (const event of events) await publisher.publishMutation(event);
    // One secret, one partition: its consumer has 5 pending; fetch 2 and leave them unacknowledged.
    const partition = partitionOfEvent(events[0] ?? events.at(-1)!, DEFAULT_PARTITIONS);
    const durable = replicatorDurable("azure", partition);
    const consumer = await jetstream(nc).consumers.get(STREAMS.mutations.name, durable);
    const fetched = await consumer.fetch({ max_messages: 2, expires: 2_000, group: REPLICA_GROUP });
    let received = 0;
    for await (const _message of fetched) received += 1;
    expect(received).toBe(2);

    for (const role of REPORTERS) {
      const reporting = await nats.connect(role, `bus-state-${role.kind}`);
      try {
        const metrics = createMetrics(undefined, { defaultMetrics: false });
        const reporter = reportBusState(reporting, metrics, createLogger({ service: "bus-state-test", level: "error" }), { intervalMs: 60_000 });
        await reporter.collect();
        reporter.stop();
        const value = async (name: string, labels: Record<string, string>) =>
          (await metrics.registry.getSingleMetric(name)?.get())?.values.find((sample) => Object.entries(labels).every(([key, label]) => sample.labels[key] === label))?.value;
        expect(await value("credmesh_stream_messages", { stream: STREAMS.mutations.name }), role.kind).toBe(5);
        expect(await value("credmesh_stream_consumers", { stream: STREAMS.mutations.name }), role.kind).toBe(DEFAULT_PARTITIONS);
        expect(await value("credmesh_stream_messages", { stream: STREAMS.deadLetters.name }), role.kind).toBe(0);
        expect(await value("credmesh_consumer_pending_messages", { consumer: durable }), role.kind).toBe(3);
        expect(await value("credmesh_consumer_ack_pending_messages", { stream: STREAMS.mutations.name, consumer: durable }), role.kind).toBe(2);
        expect(await value("credmesh_consumer_redelivered_messages", { stream: STREAMS.mutations.name, consumer: durable }), role.kind).toBe(0);
        expect((await value("credmesh_stream_bytes", { stream: STREAMS.mutations.name })) ?? 0).toBeGreaterThan(0);
      } finally {
        await reporting.close();
      }
    }
  });
});
