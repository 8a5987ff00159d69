import { BusPublisher, ensureReplicatorConsumers, ensureStreams } from "@credmesh/bus";
import { buildMutationEvent, decodeMutationEvent, partitionOfEvent, type MutationEvent } from "@credmesh/events";
import { DEFAULT_PARTITIONS, STREAMS, controlSubject, deadLetterSubject, mutationSubject, type Cloud } from "@credmesh/bus-names";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildReplayEvent, replayEventId } from "../../services/cli/src/dead-letters/replay-event.ts";
import { runCredmesh, runCredmeshJson } from "../support/credmesh-cli.ts";
import { startNats, type NatsPart } from "../support/parts.ts";

/**
 * The operator CLI against a real nats-server with the credmesh streams, without the clouds:
 * dead letters are published as the replicator publishes them, and a fake replicator answers the
 * reconcile request, so every branch an operator can meet is reachable in seconds.
 * @see ../../../shared/SPEC.md section 2 (CLI credmesh)
 */

interface ListedRecord {
  seq: number;
  destination: string;
  rule?: string;
  secret?: string;
  reason: string;
  replayable: boolean;
  correlationId?: string;
}
interface Listing {
  total: number;
  records: ListedRecord[];
}
interface ReplayOutput {
  dryRun: boolean;
  results: Array<{ seq: number; outcome: string; eventId?: string; subject?: string; streamSequence?: number; duplicate?: boolean; removed?: boolean; detail?: string }>;
  summary: Record<string, number>;
}

function mutation(name: string, destination: Cloud = "azure"): MutationEvent {
  const origin =
    destination === "azure"
      ? { cloud: "aws" as const, account: "123456789012", region: "us-east-1", secretId: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`, secretName: name }
      : { cloud: "azure" as const, vaultName: "payments-kv", secretName: name.replace(/[^0-9a-zA-Z-]/g, "-") };
  const id = `evt-${name.replace(/[^0-9a-zA-Z]/g, "")}-${destination}`;
  return buildMutationEvent({
    id,
    data: {
      kind: "upsert",
      rule: destination === "azure" ? "aws-to-azure" : "azure-to-aws",
      destination: { cloud: destination },
      origin,
      trigger: { source: destination === "azure" ? "aws.eventbridge" : "azure.eventgrid", eventId: id, eventName: "CreateSecret", eventTime: "2025-06-02T14:03:11Z" },
    },
  });
}

describe("credmesh CLI on a real bus", () => {
  let nats: NatsPart;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let publisher: BusPublisher;
  let server: string[];
  const seqs: Record<string, number> = {};
  const events: Record<string, MutationEvent> = {};

  const deadLetter = async (key: string, destination: Cloud, event: unknown, mutationSeq: number): Promise<void> => {
    const subject = event ? mutationSubject(destination, partitionOfEvent(event as MutationEvent, DEFAULT_PARTITIONS)) : `credmesh.mutation.${destination}.p00`;
    const record = {
      at: new Date().toISOString(),
      cell: `${destination}-1`,
      deliveries: event ? 1 : 3,
      stream: STREAMS.mutations.name,
      streamSequence: mutationSeq,
      subject,
      error: event
        ? { reason: "unmanaged_destination", retryable: false, message: "Key Vault secret x exists and is not managed by credmesh" }
        : { reason: "invalid_event", retryable: false, message: `message ${mutationSeq} is not a valid mutation event: data.rule: Invalid` },
      event,
    };
    const published = await publisher.publishRecord(STREAMS.deadLetters.name, deadLetterSubject(destination), record, `dlq:${STREAMS.mutations.name}:${mutationSeq}`);
    seqs[key] = published.seq;
  };

  const dlqSeqs = async (): Promise<number[]> => (await runCredmeshJson<Listing>(["dlq", "list", ...server])).records.map((record) => record.seq);
  const mutationCount = async (): Promise<number> => (await jsm.streams.info(STREAMS.mutations.name)).state.messages;

  beforeAll(async () => {
    nats = await startNats();
    nc = await nats.connect(undefined, "cli-test");
    await ensureStreams(nc);
    await ensureReplicatorConsumers(nc, "azure", DEFAULT_PARTITIONS);
    jsm = await jetstreamManager(nc);
    publisher = new BusPublisher(nc, { timeoutMs: 5_000 });
    server = nats.credmeshArgs();
    for (const [key, name, destination] of [
      ["first", "prod/payments/db-password", "azure"],
      ["second", "prod/api/key", "azure"],
      ["third", "prod/cache/token", "azure"],
      ["reverse", "prod-orders-key", "aws"],
    ] as const) {
      events[key] = mutation(name, destination);
    }
    await deadLetter("first", "azure", events.first, 11);
    await deadLetter("broken", "azure", undefined, 12);
    await deadLetter("second", "azure", events.second, 13);
    await deadLetter("reverse", "aws", events.reverse, 14);
    await deadLetter("third", "azure", events.third, 15);
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("lists dead letters oldest first, by destination, with a limit, without consuming them", async () => {
    const all = await runCredmeshJson<Listing>(["dlq", "list", ...server]);
    expect(all.total).toBe(5);
    expect(all.records.map((record) => record.seq)).toEqual([seqs.first, seqs.broken, seqs.second, seqs.reverse, seqs.third]);
    expect(all.records[0]).toMatchObject({
      destination: "azure",
      rule: "aws-to-azure",
      secret: "aws/123456789012/us-east-1/prod/payments/db-password",
      reason: "unmanaged_destination",
      replayable: true,
      correlationId: events.first?.correlationid,
    });
    expect(all.records[1]).toMatchObject({ reason: "invalid_event", replayable: false });

    const aws = await runCredmeshJson<Listing>(["dlq", "list", "--destination", "aws", ...server]);
    expect(aws.records.map((record) => [record.seq, record.secret])).toEqual([[seqs.reverse, "azure/payments-kv/prod-orders-key"]]);

    const limited = await runCredmeshJson<Listing>(["dlq", "list", "--limit", "2", ...server]);
    expect(limited).toMatchObject({ total: 5 });
    expect(limited.records).toHaveLength(2);

    const table = await runCredmesh(["dlq", "list", "--destination", "azure", "--limit", "1", ...server]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^SEQ\s+TIME\s+DEST\s+RULE/);
    expect(table.stdout).toContain("aws/123456789012/us-east-1/prod/payments/db-password");
    expect(table.stdout).toContain("showing 1 of 4 dead letters for destination azure");

    // Listing consumed nothing and left no consumer behind.
    expect((await jsm.streams.info(STREAMS.deadLetters.name)).state).toMatchObject({ messages: 5, consumer_count: 0 });
  });

  it("dry-runs a replay without changing anything", async () => {
    const before = await mutationCount();
    const run = await runCredmesh(["dlq", "replay", "--seq", String(seqs.first), "--dry-run", ...server]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`dead letter ${seqs.first}: would replay as replay:${seqs.first}:`);
    expect(run.stdout).toContain("dry run");
    expect(await mutationCount()).toBe(before);
    expect(await dlqSeqs()).toContain(seqs.first);
  });

  it("replays one dead letter to its mutation partition, removes it, and a second replay finds nothing", async () => {
    const original = events.first as MutationEvent;
    const result = await runCredmeshJson<ReplayOutput>(["dlq", "replay", "--seq", String(seqs.first), ...server]);
    const expectedSubject = mutationSubject("azure", partitionOfEvent(original, DEFAULT_PARTITIONS));
    expect(result.results).toEqual([
      expect.objectContaining({ seq: seqs.first, outcome: "replayed", subject: expectedSubject, duplicate: false, removed: true, eventId: expect.stringMatching(/^replay:\d+:[0-9a-f]{12}$/) }),
    ]);
    const stored = await jsm.streams.getMessage(STREAMS.mutations.name, { seq: result.results[0]?.streamSequence ?? 0 });
    expect(stored?.subject).toBe(expectedSubject);
    expect(stored?.header.get("Nats-Msg-Id")).toBe(result.results[0]?.eventId);
    const replayed = decodeMutationEvent(stored?.data ?? new Uint8Array());
    expect(replayed).toMatchObject({ id: result.results[0]?.eventId, correlationid: original.correlationid, subject: original.subject });
    expect(replayed.data).toEqual({ ...original.data, trigger: { ...original.data.trigger, source: "replay" } });
    expect(await dlqSeqs()).not.toContain(seqs.first);

    const again = await runCredmesh(["dlq", "replay", "--seq", String(seqs.first), ...server]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`dead letter ${seqs.first}: nothing to replay`);
    expect(again.stdout.trim().split("\n").at(-1)).toBe("nothing to replay");
  });

  it("stores a replay once when an interrupted run already published it", async () => {
    // A previous run published the replay and died before deleting the dead letter.
    const stored = await jsm.streams.getMessage(STREAMS.deadLetters.name, { seq: seqs.second ?? 0 });
    const replay = buildReplayEvent(events.second as MutationEvent, replayEventId(seqs.second ?? 0, stored?.data ?? new Uint8Array()));
    await publisher.publishMutation(replay);
    const before = await mutationCount();

    const result = await runCredmeshJson<ReplayOutput>(["dlq", "replay", "--seq", String(seqs.second), ...server]);
    expect(result.results[0]).toMatchObject({ outcome: "replayed", eventId: replay.id, duplicate: true, removed: true });
    expect(await mutationCount()).toBe(before);
    expect(await dlqSeqs()).not.toContain(seqs.second);
  });

  it("replays --all of a destination, reporting a record without an event and keeping it", async () => {
    const run = await runCredmesh(["dlq", "replay", "--all", "--destination", "azure", ...server]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`dead letter ${seqs.broken}: not replayable (the record holds no mutation event`);
    expect(run.stdout).toContain(`dead letter ${seqs.third}: replayed as replay:${seqs.third}:`);
    expect(run.stdout).toContain("secret aws/123456789012/us-east-1/prod/cache/token, rule aws-to-azure");
    expect(run.stdout.trim().split("\n").at(-1)).toBe("1 replayed, 1 not replayable");
    expect(await dlqSeqs()).toEqual([seqs.broken, seqs.reverse]);

    const skipped = await runCredmeshJson<ReplayOutput>(["dlq", "replay", "--seq", String(seqs.reverse), "--destination", "azure", ...server]);
    expect(skipped.results[0]).toMatchObject({ outcome: "skipped" });
    expect(await dlqSeqs()).toEqual([seqs.broken, seqs.reverse]);
  });

  it("shows the replicator consumers' backlog, the streams and the dead letters per destination", async () => {
    const status = await runCredmeshJson<{
      destinations: Array<{ destination: string; consumers: Array<{ name: string; pending: number; ackPending: number }>; mutations: number; deadLetters: number }>;
      streams: Array<{ name: string; missing: boolean; messages: number }>;
    }>(["status", ...server]);
    const mutations = await mutationCount();
    const [aws, azure] = status.destinations;
    expect(aws).toEqual({ destination: "aws", consumers: [], mutations: 0, deadLetters: 1 });
    expect(azure).toMatchObject({ destination: "azure", mutations, deadLetters: 1 });
    // One pinned consumer per partition; nobody consumes here, so every mutation is pending.
    expect(azure?.consumers.map((consumer) => consumer.name)).toEqual(Array.from({ length: DEFAULT_PARTITIONS }, (_, p) => `replicator-azure-p${String(p).padStart(2, "0")}`));
    expect(azure?.consumers.reduce((total, consumer) => total + consumer.pending, 0)).toBe(mutations);
    expect(status.streams.map((stream) => [stream.name, stream.missing])).toEqual(Object.values(STREAMS).map((stream) => [stream.name, false]));

    const table = await runCredmesh(["status", ...server]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/replicator-azure-p00\s+\d+\s+0\s+0\s+0\s+no\s/);
    expect(table.stdout).toContain(`total pending: ${mutations}   ack pending: 0`);
    expect(table.stdout).toContain("dead letters: 1 (credmesh dlq list --destination aws)");
  });

  it("asks the replicators to reconcile and prints their report", async () => {
    const requests: unknown[] = [];
    const responder = nc.subscribe(controlSubject("reconcile", "azure"), {
      queue: "replicator-azure",
      callback: (_error, msg) => {
        requests.push(msg.json());
        msg.respond(
          JSON.stringify({
            actions: [{ action: "upsert", secret: "aws/123456789012/us-east-1/prod/missing", reason: "missing" }],
            counts: { listed: 4, in_sync: 3, missing: 1 },
            errors: [],
          }),
        );
      },
    });
    try {
      const run = await runCredmesh(["reconcile", "--destination", "azure", "--dry-run", ...server]);
      expect(run.code).toBe(0);
      expect(requests).toEqual([{ dryRun: true }]);
      expect(run.stdout).toContain("reconcile azure (dry run): 1 finding, 0 errors");
      expect(run.stdout).toMatch(/upsert\s+missing\s+-\s+-\s+aws\/123456789012\/us-east-1\/prod\/missing/);
      expect(run.stdout).toContain("counts: listed 4, in_sync 3, missing 1");

      // Every destination: aws has no replicator here, which is reported but not a failure.
      const both = await runCredmeshJson<{ results: Array<{ destination: string; outcome: string }> }>(["reconcile", ...server]);
      expect(both.results.map((result) => [result.destination, result.outcome])).toEqual([
        ["aws", "no_responders"],
        ["azure", "ok"],
      ]);
      expect(requests).toEqual([{ dryRun: true }, { dryRun: false }]);
    } finally {
      responder.unsubscribe();
    }
  });

  it("fails clearly when no replicator answers, or answers too late", async () => {
    const none = await runCredmesh(["reconcile", "--destination", "aws", ...server]);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain("no replicator answers on credmesh.control.reconcile.aws (is replicator-aws running?)");
    expect(none.stderr).toContain("no replicator answered the reconcile request");

    const silent = nc.subscribe(controlSubject("reconcile", "aws"), { callback: () => undefined });
    try {
      const late = await runCredmesh(["reconcile", "--destination", "aws", "--timeout", "1", ...server]);
      expect(late.code).toBe(1);
      expect(late.stdout).toContain("no reply on credmesh.control.reconcile.aws within 1 s");
    } finally {
      silent.unsubscribe();
    }
  });

  it("exits 1 when the bus is unreachable and 2 on a usage error, before touching the bus", async () => {
    const down = await runCredmesh(["dlq", "list", "--server", "tls://127.0.0.1:1"]);
    expect(down).toMatchObject({ code: 1, stdout: "" });
    expect(down.stderr).toContain("credmesh: cannot connect to NATS at tls://127.0.0.1:1");

    const viaEnv = await runCredmesh(["dlq", "list", "--json"], { env: nats.env({ kind: "operator" }) });
    expect(viaEnv.code).toBe(0);

    const usage = await runCredmesh(["dlq", "replay", "--seq", "x", ...server]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--seq must be a positive integer (got "x")');
    expect(usage.stderr).toContain('Run "credmesh dlq replay --help" for usage.');
  });
});
