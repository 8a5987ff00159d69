import { describe, expect, it } from "vitest";
import { mutationSubject } from "@credmesh/bus-names";
import { DEFAULT_CONSUMER_SETTINGS, DEFAULT_STREAM_SETTINGS, differingFields, replicatorConsumerConfig, streamConfigs } from "./provisioning.ts";

const NANOS_PER_MS = 1_000_000;
const DAY_MS = 24 * 3_600_000;

describe("streamConfigs", () => {
  const configs = streamConfigs({ replicas: 3, duplicateWindowMs: 120_000, maxAgeMs: 2 * DAY_MS });

  it("defines the credmesh streams on their subjects", () => {
    expect(Object.fromEntries(Object.values(configs).map((c) => [c.name, c.subjects]))).toStrictEqual({
      CREDMESH_MUTATIONS: ["credmesh.mutation.>"],
      CREDMESH_DLQ: ["credmesh.dlq.>"],
      CREDMESH_AUDIT: ["credmesh.audit.>"],
      CREDMESH_LIFECYCLE: ["credmesh.lifecycle.>"],
      CREDMESH_IDENTITY: ["credmesh.identity.>"],
    });
  });

  it("stores every stream durably on file with the configured replicas", () => {
    for (const config of Object.values(configs)) {
      expect(config).toMatchObject({ storage: "file", num_replicas: 3, discard: "old", retention: "limits" });
    }
  });

  it("remembers message ids for the duplicate window, in nanoseconds", () => {
    expect(configs.mutations.duplicate_window).toBe(120_000 * NANOS_PER_MS);
    expect(configs.deadLetters.duplicate_window).toBe(120_000 * NANOS_PER_MS);
  });

  it("keeps mutations and audit records for the configured age, in nanoseconds", () => {
    expect(configs.mutations.max_age).toBe(2 * DAY_MS * NANOS_PER_MS);
    expect(configs.audit.max_age).toBe(2 * DAY_MS * NANOS_PER_MS);
  });

  it("keeps dead letters for 30 days whatever the mutation retention, until a person looks", () => {
    expect(configs.deadLetters.max_age).toBe(30 * DAY_MS * NANOS_PER_MS);
  });

  it("defaults to one replica locally, a 10-minute duplicate window and a week of retention", () => {
    const local = streamConfigs(DEFAULT_STREAM_SETTINGS);
    expect(local.mutations).toMatchObject({
      num_replicas: 1,
      duplicate_window: 10 * 60_000 * NANOS_PER_MS,
      max_age: 7 * DAY_MS * NANOS_PER_MS,
    });
  });
});

describe("replicatorConsumerConfig", () => {
  it("defines one pinned pull consumer per partition, with explicit acks", () => {
    expect(replicatorConsumerConfig("azure", 7, { maxDeliver: 7, ackWaitMs: 45_000, maxAckPending: 64, pinTimeoutMs: 10_000 })).toStrictEqual({
      durable_name: "replicator-azure-p07",
      ack_policy: "explicit",
      deliver_policy: "all",
      filter_subject: "credmesh.mutation.azure.p07",
      max_deliver: 7,
      ack_wait: 45_000 * NANOS_PER_MS,
      max_ack_pending: 64,
      priority_groups: ["replicas"],
      priority_policy: "pinned_client",
      priority_timeout: 10_000 * NANOS_PER_MS,
    });
  });

  it("gives each destination and partition its own durable and filter, on the publisher's subject", () => {
    const aws = replicatorConsumerConfig("aws", 9, DEFAULT_CONSUMER_SETTINGS);
    expect(aws.durable_name).toBe("replicator-aws-p09");
    expect(aws.filter_subject).toBe(mutationSubject("aws", 9));
  });

  it("defaults to 10 deliveries, a 30 s ack wait, 64 messages in flight per partition and a 15 s pin timeout", () => {
    expect(replicatorConsumerConfig("azure", 0, DEFAULT_CONSUMER_SETTINGS)).toMatchObject({
      max_deliver: 10,
      ack_wait: 30_000 * NANOS_PER_MS,
      max_ack_pending: 64,
      priority_timeout: 15_000 * NANOS_PER_MS,
    });
  });
});


describe("differingFields", () => {
  const wanted = streamConfigs(DEFAULT_STREAM_SETTINGS).audit;

  it("finds nothing to change in a stream created from the same configuration, whatever the server added", () => {
    expect(differingFields(wanted, { ...wanted, subjects: [...(wanted.subjects ?? [])], max_msgs: -1, allow_direct: true })).toEqual([]);
  });

  it("names each managed field that differs, never an operator's own field", () => {
    const changed = { ...wanted, subjects: ["credmesh.audit.>", "x.>"], max_age: 1, num_replicas: 3, max_msgs: 10 };
    expect(differingFields(wanted, changed)).toEqual(["subjects", "num_replicas", "max_age"]);
  });
});
