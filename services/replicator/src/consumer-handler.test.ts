import { describe, expect, it } from "vitest";
import type { BusPublisher, JsMsg } from "@credmesh/bus";
import { CredmeshError } from "@credmesh/errors";
import { buildMutationEvent, encodeEvent } from "@credmesh/events";
import { createLogger } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import type { MutationRun, Outcome } from "./converge/apply.ts";
import { createHandlers } from "./consumer-handler.ts";
import type { SecretLease, SecretLeases } from "./secret-lease.ts";

/**
 * The glue between the consumer and the converge path, with a stand-in message and publisher
 * (pure logic; the real consumer runs in test/e2e): deadlines and lost leases abort the work,
 * audit records carry a message id derived from the decision, drift is counted.
 */
const event = buildMutationEvent({
  id: "evt-1",
  data: {
    kind: "upsert",
    rule: "aws-to-azure",
    destination: { cloud: "azure" },
    origin: { cloud: "aws", account: "123456789012", region: "us-east-1", secretId: "prod/db", secretName: "prod/db" },
    trigger: { source: "aws.eventbridge", eventId: "evt-1", eventName: "PutSecretValue", eventTime: new Date().toISOString() },
  },
});

const message = (deliveryCount = 1): JsMsg => ({ data: encodeEvent(event), seq: 7, subject: "credmesh.mutation.azure.p01", info: { deliveryCount, stream: "CREDMESH_MUTATIONS" } }) as unknown as JsMsg;

function harness(apply: (run: MutationRun) => Promise<Outcome>, leases?: SecretLeases, admit: () => void = () => undefined, refuse: () => boolean = () => false) {
  const records: Array<{ subject: string; record: { decision: string }; msgId: string | undefined }> = [];
  const publisher = {
    publishRecord: async (_stream: string, subject: string, record: unknown, msgId?: string) => {
      // The bus without a stream leader: the publish is not acknowledged.
      if (refuse()) throw new CredmeshError("bus_unavailable", `publish to ${subject} was not acknowledged`);
      records.push({ subject, record: record as { decision: string }, msgId });
      return { subject, stream: "CREDMESH_AUDIT", seq: records.length, duplicate: false };
    },
  } as unknown as BusPublisher;
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const handlers = createHandlers({
    destination: "azure",
    cell: "test",
    ...(leases ? { leases } : {}),
    admit,
    apply: (_event, run) => apply(run),
    publisher,
    metrics,
    logger: createLogger({ service: "test", level: "silent" }),
  });
  return { handlers, records, metrics };
}

const applied: Outcome = { decision: "applied", destination: { vault: "https://kv", name: "prod-db", versionId: "k1" }, originVersion: "v1" };

describe("createHandlers", () => {
  it("publishes the audit record with a message id derived from the decision: a redelivery deciding the same is stored once", async () => {
    const { handlers, records } = harness(async () => applied);
    await handlers.handle(message(1), new AbortController().signal);
    await handlers.handle(message(2), new AbortController().signal);
    expect(records).toHaveLength(2);
    expect(records[0]?.msgId).toMatch(/^audit:[0-9a-f]{48}$/);
    expect(records[1]?.msgId).toBe(records[0]?.msgId);
    const other = harness(async () => ({ ...applied, destination: { ...applied.destination, versionId: "k2" } }));
    await other.handlers.handle(message(1), new AbortController().signal);
    expect(other.records[0]?.msgId).not.toBe(records[0]?.msgId);
  });

  it("does not settle a mutation whose audit record the bus did not take: it fails retryable, and the redelivery's decision is recorded", async () => {
    let refuse = true;
    const { handlers, records } = harness(async () => applied, undefined, undefined, () => refuse);
    await expect(handlers.handle(message(1), new AbortController().signal)).rejects.toMatchObject({ reason: "bus_unavailable", retryable: true });
    refuse = false;
    await handlers.handle(message(2), new AbortController().signal);
    expect(records.map((entry) => entry.record.decision)).toEqual(["applied"]);
  });

  it("aborts the work when the secret's lease is lost, reports the loss, and releases the lease", async () => {
    const lost = new AbortController();
    let released = false;
    const lease: SecretLease = { lost: lost.signal, release: async () => void (released = true) };
    const leases: SecretLeases = { acquire: async () => lease };
    const { handlers, records } = harness(
      (run) =>
        new Promise<Outcome>((_resolve, reject) => {
          // A cloud call in flight, aborted by the run's signal as the adapters do.
          run.signal?.addEventListener("abort", () => reject(new Error("AbortError")), { once: true });
          lost.abort(new CredmeshError("operation_in_progress", "secret lease lost: another holder may have it"));
        }),
      leases,
    );
    await expect(handlers.handle(message(), new AbortController().signal)).rejects.toMatchObject({ reason: "operation_in_progress", retryable: true });
    expect(released).toBe(true);
    expect(records).toEqual([]);
  });

  it("aborts the work when the consumer's deadline passes, as a retryable timeout", async () => {
    const deadline = new AbortController();
    const { handlers } = harness(
      (run) =>
        new Promise<Outcome>((_resolve, reject) => {
          run.signal?.addEventListener("abort", () => reject(new Error("AbortError")), { once: true });
          deadline.abort(new Error("deadline"));
        }),
    );
    await expect(handlers.handle(message(), deadline.signal)).rejects.toMatchObject({ reason: "timeout", retryable: true });
  });

  it("counts drift by what the policy did", async () => {
    const { handlers, metrics } = harness(async () => ({ ...applied, decision: "overwrote_drift", destination: { ...applied.destination, replacedVersionId: "hand-1" } }));
    await handlers.handle(message(), new AbortController().signal);
    expect(await metrics.registry.metrics()).toContain('credmesh_replica_drift_total{destination="azure",rule="aws-to-azure",action="overwritten"} 1');
  });

  it("refuses a mutation out of scope before its lease and any work, and dead-letters it with an audit record", async () => {
    let leased = 0;
    let applies = 0;
    const leases: SecretLeases = { acquire: async () => ((leased += 1), { lost: new AbortController().signal, release: async () => undefined }) };
    const refuse = (): void => {
      throw new CredmeshError("out_of_scope", "the origin secret is not in scope of rule aws-to-azure: no rule covers it");
    };
    const { handlers, records, metrics } = harness(async () => ((applies += 1), applied), leases, refuse);
    const error = await handlers.handle(message(), new AbortController().signal).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toMatchObject({ reason: "out_of_scope", retryable: false });
    expect({ leased, applies }).toEqual({ leased: 0, applies: 0 });
    await handlers.deadLetter(message(), error as CredmeshError);
    expect(records.map((entry) => entry.subject)).toEqual(["credmesh.dlq.azure", "credmesh.audit.azure.dead_lettered"]);
    expect(records[0]?.record).toMatchObject({ error: { reason: "out_of_scope", retryable: false } });
    expect(records[1]?.record).toMatchObject({ decision: "dead_lettered", detail: expect.stringMatching(/^out_of_scope: /) as unknown });
    expect(await metrics.registry.metrics()).toContain('credmesh_dead_letters_total{destination="azure",reason="out_of_scope"} 1');
  });
});
