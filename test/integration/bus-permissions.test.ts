/**
 * The permission matrix: every bus role tries every operation of the other roles against a real
 * nats-server configured from @credmesh/bus-roles (TLS, one nkey per role), and is refused exactly
 * where the matrix below says. The matrix is written here, by hand, from the issue and the README's
 * "Security model" — not derived from the role description under test — so a permission that
 * grows or shrinks in the description fails this test. "Refused" means the server's own answer,
 * a permissions violation; any other failure fails the test (it would prove nothing).
 */
import { randomUUID } from "node:crypto";
import { ensureReplicatorConsumers, ensureStreams, openQuarantineBucket } from "@credmesh/bus";
import { COORDINATION_BUCKETS, KV_BUCKETS, REPLICA_GROUP, STREAMS, cellKey, provedVersionKey, replicatorDurable, secretLeaseKey } from "@credmesh/bus-names";
import type { BusRole } from "@credmesh/bus-roles";
import { buildDeadLetterRecord, buildIdentityEvent, buildMutationEvent, encodeEvent, encodeQuarantineRecord } from "@credmesh/events";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, type NatsPart } from "../support/parts.ts";

const CELL_A = "cell-a";
const CELL_B = "cell-b";
const TIMEOUT_MS = 5_000;

const ROLES = {
  ingest: { kind: "ingest" },
  "replicator-azure": { kind: "replicator", destination: "azure", cell: CELL_A },
  "replicator-aws": { kind: "replicator", destination: "aws", cell: CELL_B },
  "identity-watcher": { kind: "identity-watcher" },
  operator: { kind: "operator" },
  auditor: { kind: "auditor" },
  admin: { kind: "admin" },
} as const satisfies Record<string, BusRole>;
type RoleName = keyof typeof ROLES;

/** What each role may do (✓) — every other cell of its row is expected to be refused by the server. */
const MATRIX: Record<string, readonly RoleName[]> = {
  "publish a mutation for Azure": ["ingest", "replicator-azure", "operator", "admin"],
  "publish a mutation for AWS": ["ingest", "replicator-aws", "operator", "admin"],
  "pull Azure's mutations": ["replicator-azure", "admin"],
  "publish an Azure audit record": ["replicator-azure", "admin"],
  "tap the audit records (credmesh.audit.>)": ["auditor", "admin"],
  "report an observation of cell-a": ["replicator-azure", "admin"],
  "read cell-a's quarantine state": ["replicator-azure", "identity-watcher", "operator", "admin"],
  "write the quarantine bucket": ["identity-watcher", "admin"],
  "take an Azure secret lease": ["replicator-azure", "admin"],
  "read an Azure secret lease": ["replicator-azure", "admin"],
  "record a proved source version for AWS": ["replicator-aws", "admin"],
  "read a proved source version for AWS": ["replicator-aws", "admin"],
  "replay a dead letter (read it, delete it)": ["operator", "admin"],
  "request a quarantine": ["operator", "admin"],
  "answer a quarantine request": ["identity-watcher", "admin"],
  "answer an Azure reconcile request": ["replicator-azure", "admin"],
  "change a stream's configuration": ["admin"],
  "delete a stream": ["admin"],
};

/** True when the error (or one of its causes) is nats-server's permissions violation. */
function isPermissionViolation(error: unknown): boolean {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    if (current.name === "PermissionViolationError" || current.message.includes("Permissions Violation")) return true;
  }
  return false;
}

/** Rejects when `sub`'s subscription is refused; never resolves otherwise. */
function subscriptionRefused(errors: Promise<unknown>): Promise<never> {
  return errors.then((error) => Promise.reject(error instanceof Error ? error : new Error(String(error))));
}

describe("bus permissions: every role against every operation, on a real nats-server", () => {
  let nats: NatsPart;
  let admin: NatsConnection;
  const results: Array<{ operation: string; role: RoleName; allowed: boolean; detail: string }> = [];

  /** Publishes a dead letter as the replicator would; returns its stream sequence. */
  const deadLetter = async (): Promise<number> => {
    const record = buildDeadLetterRecord({
      at: new Date(),
      cell: CELL_A,
      deliveries: 1,
      stream: STREAMS.mutations.name,
      streamSequence: 1,
      subject: "credmesh.mutation.azure.p00",
      error: { reason: "access_denied", retryable: false, message: "test" },
    });
    const ack = await jetstream(admin).publish("credmesh.dlq.azure", JSON.stringify(record));
    return ack.seq;
  };

  const mutation = (destination: "azure" | "aws") =>
    encodeEvent(
      buildMutationEvent({
        data: {
          kind: "upsert",
          rule: "r",
          destination: { cloud: destination },
          origin: { cloud: "aws", account: "123456789012", region: "us-east-1", secretId: "prod/x", secretName: "prod/x" },
          trigger: { source: "aws.eventbridge", eventName: "PutSecretValue", eventTime: new Date().toISOString() },
        },
      }),
    );

  /** Each operation as the role that owns it performs it; throws when it could not be done. */
  const OPERATIONS: Record<keyof typeof MATRIX, (nc: NatsConnection) => Promise<unknown>> = {
    "publish a mutation for Azure": (nc) => jetstream(nc).publish("credmesh.mutation.azure.p00", mutation("azure"), { timeout: TIMEOUT_MS }),
    "publish a mutation for AWS": (nc) => jetstream(nc).publish("credmesh.mutation.aws.p00", mutation("aws"), { timeout: TIMEOUT_MS }),
    "pull Azure's mutations": async (nc) => {
      const consumer = await jetstream(nc, { timeout: TIMEOUT_MS }).consumers.get(STREAMS.mutations.name, replicatorDurable("azure", 0));
      for await (const msg of await consumer.fetch({ max_messages: 1, expires: 1_000, group: REPLICA_GROUP })) msg.nak();
    },
    "publish an Azure audit record": (nc) => jetstream(nc).publish("credmesh.audit.azure.applied", "{}", { timeout: TIMEOUT_MS }),
    "tap the audit records (credmesh.audit.>)": async (nc) => {
      const refused = Promise.withResolvers<unknown>();
      const received = Promise.withResolvers<void>();
      nc.subscribe("credmesh.audit.>", { callback: (error) => (error ? refused.resolve(error) : received.resolve()) });
      await nc.flush();
      const probe = setInterval(() => admin.publish("credmesh.audit.azure.applied", "{}"), 200);
      try {
        await Promise.race([received.promise, subscriptionRefused(refused.promise), timeout("no audit record arrived")]);
      } finally {
        clearInterval(probe);
      }
    },
    "report an observation of cell-a": (nc) =>
      jetstream(nc).publish(
        `credmesh.identity.${CELL_A}.access_denied`,
        JSON.stringify(buildIdentityEvent({ id: randomUUID(), producer: "replicator", data: { kind: "access_denied", cell: CELL_A, cloud: "aws", operation: "GetSecretValue", observedAt: new Date().toISOString() } })),
        { timeout: TIMEOUT_MS },
      ),
    "read cell-a's quarantine state": async (nc) => (await new Kvm(nc).open(KV_BUCKETS.quarantine, { allow_direct: true })).get(cellKey(CELL_A)),
    "write the quarantine bucket": async (nc) =>
      (await new Kvm(nc).open(KV_BUCKETS.quarantine)).put(
        cellKey(CELL_A),
        encodeQuarantineRecord({ cell: CELL_A, state: "active", reason: "matrix", by: "test", at: new Date().toISOString(), trigger: { type: "operator" }, transitionId: randomUUID() }),
      ),
    "take an Azure secret lease": async (nc) => (await new Kvm(nc).open(COORDINATION_BUCKETS.secretLeases)).create(secretLeaseKey("azure", randomUUID().replace(/-/g, "")), "{}"),
    "read an Azure secret lease": async (nc) => (await new Kvm(nc).open(COORDINATION_BUCKETS.secretLeases, { allow_direct: true })).get(secretLeaseKey("azure", "0".repeat(40))),
    "record a proved source version for AWS": async (nc) =>
      (await new Kvm(nc).open(COORDINATION_BUCKETS.reconcileVersions)).put(provedVersionKey("aws", randomUUID().replace(/-/g, "")), "{}"),
    "read a proved source version for AWS": async (nc) =>
      (await new Kvm(nc).open(COORDINATION_BUCKETS.reconcileVersions, { allow_direct: true })).get(provedVersionKey("aws", "0".repeat(40))),
    "replay a dead letter (read it, delete it)": async (nc) => {
      const seq = await deadLetter();
      const jsm = await jetstreamManager(nc, { timeout: TIMEOUT_MS });
      await jsm.streams.getMessage(STREAMS.deadLetters.name, { seq });
      return jsm.streams.deleteMessage(STREAMS.deadLetters.name, seq, false);
    },
    "request a quarantine": (nc) => nc.request(`credmesh.control.quarantine.${CELL_A}`, "{}", { timeout: TIMEOUT_MS }),
    "answer a quarantine request": (nc) => answers(nc, `credmesh.control.quarantine.*`, `credmesh.control.quarantine.${CELL_A}`),
    "answer an Azure reconcile request": (nc) => answers(nc, "credmesh.control.reconcile.azure", "credmesh.control.reconcile.azure"),
    "change a stream's configuration": async (nc) => {
      const jsm = await jetstreamManager(nc, { timeout: TIMEOUT_MS });
      const info = await jsm.streams.info(STREAMS.audit.name);
      return jsm.streams.update(STREAMS.audit.name, info.config);
    },
    "delete a stream": async (nc) => (await jetstreamManager(nc, { timeout: TIMEOUT_MS })).streams.delete(STREAMS.lifecycle.name),
  };

  /** Subscribes as the role and answers one request the admin sends; throws if it cannot. */
  async function answers(nc: NatsConnection, filter: string, subject: string): Promise<void> {
    const refused = Promise.withResolvers<unknown>();
    nc.subscribe(filter, {
      callback: (error, msg) => {
        if (error) refused.resolve(error);
        else msg.respond("{}");
      },
    });
    await nc.flush();
    // The requester is the admin, so only the role's own permissions decide.
    const reply = admin.request(subject, "{}", { timeout: TIMEOUT_MS });
    await Promise.race([reply, subscriptionRefused(refused.promise)]);
  }

  beforeAll(async () => {
    nats = await startNats({
      deployment: { partitions: 16, replicators: [{ destination: "azure", cell: CELL_A }, { destination: "aws", cell: CELL_B }] },
    });
    admin = await nats.connect(undefined, "matrix-admin");
    await ensureStreams(admin);
    await ensureReplicatorConsumers(admin, "azure", 16);
    await ensureReplicatorConsumers(admin, "aws", 16);
    await openQuarantineBucket(admin, 1);
    await new Kvm(admin).create(COORDINATION_BUCKETS.secretLeases, { history: 1, ttl: 30_000 });
    await new Kvm(admin).create(COORDINATION_BUCKETS.reconcileVersions, { history: 1 });
    // The admin answers the requests a role sends (the "request a quarantine" row).
    admin.subscribe(`credmesh.control.quarantine.${CELL_A}`, {
      queue: "matrix-admin",
      callback: (_error, msg) => {
        msg.respond("{}");
      },
    });
    await admin.flush();
  }, 120_000);

  afterAll(async () => {
    await admin?.close().catch(() => undefined);
    await nats?.stop();
  });

  for (const [role, identity] of Object.entries(ROLES) as Array<[RoleName, BusRole]>) {
    it(`${role}: allowed and refused exactly as the matrix says`, async () => {
      for (const [operation, run] of Object.entries(OPERATIONS)) {
        const nc = await nats.connect(identity, `matrix-${role}`);
        // A refused publish without a reply (a pull request, an ack) is only reported on the connection.
        const reported: unknown[] = [];
        void (async () => {
          for await (const status of nc.status()) if (status.type === "error" && isPermissionViolation(status.error)) reported.push(status.error);
        })();
        try {
          await run(nc);
          await nc.flush();
          if (reported.length > 0) throw new Error("the server refused a publish", { cause: reported[0] });
          results.push({ operation, role, allowed: true, detail: "" });
        } catch (error) {
          // A refused pull request has no reply: the server's report on the connection may come
          // after the client gave up waiting (heartbeats missed). Either way the server said no.
          await nc.flush().catch(() => undefined);
          const refusal = isPermissionViolation(error) ? error : reported[0];
          if (refusal === undefined) throw new Error(`${role} / ${operation}: failed for another reason than a permission`, { cause: error });
          results.push({ operation, role, allowed: false, detail: refusal instanceof Error ? refusal.message : JSON.stringify(refusal) });
        } finally {
          await nc.close().catch(() => undefined);
        }
        // The admin's deletion is the one change an operation makes to the fixtures: undo it.
        if (operation === "delete a stream") await ensureStreams(admin);
      }
      const actual = Object.fromEntries(results.filter((result) => result.role === role).map((result) => [result.operation, result.allowed ? "allowed" : "refused"]));
      const expected = Object.fromEntries(Object.entries(MATRIX).map(([operation, allowed]) => [operation, allowed.includes(role) ? "allowed" : "refused"]));
      const refusals = results.filter((result) => result.role === role && !result.allowed).map((result) => `${result.operation}: ${result.detail}`);
      expect(actual, `refusals of ${role}:\n${refusals.join("\n")}`).toEqual(expected);
    });
  }
});

function timeout(what: string): Promise<never> {
  return new Promise((_resolve, reject) => setTimeout(() => reject(new Error(`${what} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS).unref());
}
