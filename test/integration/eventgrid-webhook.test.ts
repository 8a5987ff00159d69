import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LIFECYCLE_EVENT_TYPE, MUTATION_EVENT_TYPE, decodeLifecycleEvent, decodeMutationEvent, partitionOfEvent } from "@credmesh/events";
import { DEFAULT_PARTITIONS, STREAMS, lifecycleSubject, mutationSubject } from "@credmesh/bus-names";
import { readFixture } from "../support/fixtures.ts";
import { until } from "../support/wait.ts";
import {
  AZURE_RULE_ID,
  VAULT,
  asCloudEvent,
  deliverEventGrid,
  gridEvent,
  gridEvents,
  storedById,
  streamCount,
  type EventGridDelivery,
  type EventGridDeliveryOptions,
  type GridEvent,
  type Json,
  writeEventGridRules,
} from "./support/eventgrid-delivery.ts";
import { entraEnv, startTestIssuer, type TestIssuer } from "./support/eventgrid-issuer.ts";
import { credentialEnv, newCredentials, scrape, startIngest, type Ingest } from "./support/ingest.ts";
import { startRestartableNats, type RestartableNats } from "./support/nats-server.ts";
import { changes, type SeriesChange } from "./support/prometheus-text.ts";

/**
 * ingest's Event Grid webhook as a real process on a real socket, against a real nats-server,
 * with Microsoft Entra bearer tokens minted in the test from keys whose JWKS a local HTTP server
 * publishes: the handshakes exactly as Event Grid performs them, deliveries in both schemas, the
 * lifecycle events, redelivery, every kind of bad token, and a bus outage.
 * @see ../../../shared/SPEC.md section 2 (ingest), ../../../shared/FORMATS.md sections C and D
 */

const SOURCE = "azure.eventgrid";
const EVENTS = "credmesh_ingest_events_total";
const REQUESTS = "credmesh_ingest_requests_total";

describe("ingest: the Event Grid webhook with Entra ID auth", () => {
  let nats: RestartableNats;
  let issuer: TestIssuer;
  let ingest: Ingest;
  let bus: NatsConnection;
  let dir: string;
  /** Every token presented to ingest, good or bad: none may ever appear in a log line. */
  const presented: string[] = [];

  beforeAll(async () => {
    [nats, issuer, dir] = await Promise.all([startRestartableNats(), startTestIssuer(), mkdtemp(join(tmpdir(), "credmesh-eventgrid-it-"))]);
    ingest = await startIngest({
      ...nats.env({ kind: "ingest" }),
      CREDMESH_RULES_FILE: await writeEventGridRules(dir),
      ...credentialEnv(newCredentials()),
      ...entraEnv(issuer),
    });
    bus = await nats.connect(undefined, "eventgrid-integration-test");
  });

  afterEach((context) => {
    if (context.task.result?.state === "fail") console.error(`--- ingest ---\n${ingest?.process.tail(25)}`);
  });

  afterAll(async () => {
    await bus?.close();
    await ingest?.stop();
    await nats?.dispose();
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const token = async (...args: Parameters<TestIssuer["mint"]>): Promise<string> => {
    const minted = await issuer.mint(...args);
    presented.push(minted);
    return minted;
  };
  const post = async (body: unknown, options: Omit<EventGridDeliveryOptions, "body"> = {}): Promise<EventGridDelivery> =>
    deliverEventGrid(ingest.url, { body, token: options.token ?? (await token()), ...options });

  /** What an action changed: messages in both streams, and the ingest counters of this endpoint. */
  const observe = async <T>(action: () => Promise<T>) => {
    const count = async () => [await streamCount(bus, STREAMS.mutations.name), await streamCount(bus, STREAMS.lifecycle.name)] as const;
    const [[mutationsBefore, lifecycleBefore], metricsBefore] = [await count(), await scrape(ingest.url)];
    const result = await action();
    const [[mutationsAfter, lifecycleAfter], metricsAfter] = [await count(), await scrape(ingest.url)];
    return {
      result,
      mutations: mutationsAfter - mutationsBefore,
      lifecycle: lifecycleAfter - lifecycleBefore,
      events: changes(metricsBefore, metricsAfter, EVENTS).filter((change) => change.labels.source === SOURCE),
      requests: changes(metricsBefore, metricsAfter, REQUESTS).filter((change) => change.labels.endpoint === "eventgrid"),
    };
  };
  const event = (outcome: string, reason: string, delta = 1): SeriesChange => ({ labels: { source: SOURCE, outcome, reason }, delta });
  const request = (status: number, delta = 1): SeriesChange => ({ labels: { endpoint: "eventgrid", status: String(status) }, delta });

  /** The one mutation stored under `id`, checked to be where the publisher must put it. */
  const storedMutation = async (id: string) => {
    const stored = await storedById(bus, STREAMS.mutations.name, id);
    expect(stored).toHaveLength(1);
    const [message] = stored;
    if (!message) throw new Error("unreachable");
    const mutation = decodeMutationEvent(message.data);
    expect(message.subject).toMatch(/^credmesh\.mutation\.aws\.p\d{2}$/);
    expect(message.subject).toBe(mutationSubject("aws", partitionOfEvent(mutation, DEFAULT_PARTITIONS)));
    return mutation;
  };

  describe("handshakes", () => {
    it("answers the CloudEvents OPTIONS handshake exactly as the fixture shows, and refuses another origin", async () => {
      const exchange = readFixture<{ request: { headers: Record<string, string> }; response: { status: number; headers: Record<string, string> } }>(
        "azure-cloudevents-options-handshake.json",
      );
      const observed = await observe(async () => [
        await deliverEventGrid(ingest.url, { method: "OPTIONS", headers: exchange.request.headers }),
        await deliverEventGrid(ingest.url, { method: "OPTIONS", headers: { "WebHook-Request-Origin": "attacker.example.com" } }),
      ]);
      const [allowed, refused] = observed.result as [EventGridDelivery, EventGridDelivery];
      expect(allowed.status).toBe(exchange.response.status);
      for (const [name, value] of Object.entries(exchange.response.headers)) expect(allowed.headers.get(name)).toBe(value);
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ error: { code: "origin_not_allowed" } });
      expect(refused.headers.get("webhook-allowed-origin")).toBeNull();
      expect([observed.mutations, observed.lifecycle]).toEqual([0, 0]);
      expect(observed.requests).toEqual([request(200), request(403)]);
    });

    it("answers the SubscriptionValidation handshake as Event Grid performs it, and only when authenticated", async () => {
      const validation = readFixture("azure-eventgrid-subscriptionvalidation.json");
      const headers = { "aeg-event-type": "SubscriptionValidation" };
      const observed = await observe(async () => [
        await post(validation, { headers }),
        await deliverEventGrid(ingest.url, { body: validation, headers }),
        await post(validation, { headers, token: await token({ aud: "api://another-app" }) }),
      ]);
      const [answered, anonymous, wrongAudience] = observed.result as [EventGridDelivery, EventGridDelivery, EventGridDelivery];
      expect(answered.status).toBe(200);
      expect(answered.headers.get("content-type")).toMatch(/^application\/json/);
      expect(answered.body).toStrictEqual(readFixture("azure-eventgrid-subscriptionvalidation-response.json"));
      for (const refused of [anonymous, wrongAudience]) {
        expect(refused.status).toBe(401);
        expect(refused.text).not.toContain("validationResponse");
      }
      expect([observed.mutations, observed.lifecycle]).toEqual([0, 0]);
      expect(observed.events).toEqual([event("rejected", "unauthenticated", 2)]);
    });
  });

  describe("deliveries", () => {
    it("puts a SecretNewVersionCreated (Event Grid schema) on credmesh.mutation.aws.pNN with the Event Grid id as Nats-Msg-Id", async () => {
      const created = gridEvent("azure-eventgrid-secretnewversioncreated.json", { name: "db-password" });
      const observed = await observe(() => post([created]));
      expect(observed.result.status).toBe(200);
      expect(observed.result.body).toMatchObject({ status: "accepted", events: [{ id: created.id, outcome: "published" }] });
      expect([observed.mutations, observed.lifecycle]).toEqual([1, 0]);
      expect(observed.events).toEqual([event("published", "upsert")]);
      expect(observed.requests).toEqual([request(200)]);

      const mutation = await storedMutation(created.id);
      expect(mutation).toMatchObject({
        specversion: "1.0",
        type: MUTATION_EVENT_TYPE,
        id: created.id,
        subject: `azure/${VAULT}/db-password`,
        data: {
          kind: "upsert",
          rule: AZURE_RULE_ID,
          destination: { cloud: "aws" },
          origin: { cloud: "azure", vaultName: VAULT, secretName: "db-password", versionId: created.data["Version"] },
          trigger: { source: SOURCE, eventId: created.id, eventName: "Microsoft.KeyVault.SecretNewVersionCreated", eventTime: created.eventTime },
        },
      });
      expect((await storedById(bus, STREAMS.mutations.name, created.id))[0]?.header.get("Nats-Msg-Id")).toBe(created.id);
    });

    it("does the same for CloudEvents, single (cloudevents+json) and batched (cloudevents-batch+json)", async () => {
      const single = gridEvent("azure-eventgrid-secretnewversioncreated.json", { name: "db-single" });
      const batch = [gridEvent("azure-eventgrid-secretnewversioncreated.json", { name: "db-batch-a" }), gridEvent("azure-eventgrid-secretnewversioncreated.json", { name: "db-batch-b" })];
      const observed = await observe(async () => [
        await post(asCloudEvent(single), { contentType: "application/cloudevents+json; charset=utf-8", headers: { origin: "eventgrid.azure.net" } }),
        await post(batch.map(asCloudEvent), { contentType: "application/cloudevents-batch+json; charset=utf-8" }),
      ]);
      expect(observed.result.map((response) => response.status)).toEqual([200, 200]);
      expect([observed.mutations, observed.lifecycle]).toEqual([3, 0]);
      for (const sent of [single, ...batch]) {
        const mutation = await storedMutation(sent.id);
        expect(mutation.data.origin).toStrictEqual({ cloud: "azure", vaultName: VAULT, secretName: sent.subject, versionId: sent.data["Version"] });
      }
    });

    it.each([
      ["azure-eventgrid-secretnearexpiry.json", "secret", "near_expiry"],
      ["azure-eventgrid-secretexpired.json", "secret", "expired"],
      ["azure-eventgrid-vaultaccesspolicychanged.json", "vault", "access_policy_changed"],
    ] as const)("puts %s on credmesh.lifecycle.%s.%s with its id as Nats-Msg-Id", async (fixture, objectType, kind) => {
      const sent = gridEvent(fixture);
      const observed = await observe(() => post([sent]));
      expect(observed.result.status).toBe(200);
      expect([observed.mutations, observed.lifecycle]).toEqual([0, 1]);
      expect(observed.events).toEqual([event("published", `${objectType}.${kind}`)]);
      const [message, ...more] = await storedById(bus, STREAMS.lifecycle.name, sent.id);
      expect(more).toEqual([]);
      expect(message?.subject).toBe(lifecycleSubject(objectType, kind));
      const lifecycle = decodeLifecycleEvent(message?.data ?? new Uint8Array());
      expect(lifecycle).toMatchObject({ type: LIFECYCLE_EVENT_TYPE, id: sent.id, data: { kind, objectType, vaultName: VAULT, trigger: { eventId: sent.id, eventName: sent.eventType } } });
    });

    it("accepts the mixed batch: the in-scope secret as a mutation, four lifecycle events, one secret out of scope (counted)", async () => {
      const batch = gridEvents("azure-eventgrid-batch-mixed.json");
      const observed = await observe(() => post(batch));
      expect(observed.result.status).toBe(200);
      expect((observed.result.body?.events as Json[]).map((result) => result.outcome)).toEqual([
        "published",
        "out_of_scope",
        "published",
        "published",
        "published",
        "published",
      ]);
      expect([observed.mutations, observed.lifecycle]).toEqual([1, 4]);
      expect(observed.events).toEqual(
        [
          event("out_of_scope", "no_matching_rule"),
          event("published", "certificate.new_version"),
          event("published", "key.new_version"),
          event("published", "secret.near_expiry"),
          event("published", "upsert"),
          event("published", "vault.access_policy_changed"),
        ].sort((a, b) => JSON.stringify(Object.entries(a.labels).sort()).localeCompare(JSON.stringify(Object.entries(b.labels).sort()))),
      );
      const subjects = await Promise.all(batch.slice(2).map(async (sent) => (await storedById(bus, STREAMS.lifecycle.name, sent.id))[0]?.subject));
      expect(subjects).toEqual([
        "credmesh.lifecycle.key.new_version",
        "credmesh.lifecycle.certificate.new_version",
        "credmesh.lifecycle.secret.near_expiry",
        "credmesh.lifecycle.vault.access_policy_changed",
      ]);
      expect(await storedById(bus, STREAMS.mutations.name, (batch[1] as GridEvent).id)).toEqual([]);
    });

    it("stores nothing twice when Event Grid redelivers a batch", async () => {
      const batch = gridEvents("azure-eventgrid-batch-mixed.json");
      expect((await post(batch)).status).toBe(200);
      const observed = await observe(async () => [
        await post(batch, { headers: { "aeg-delivery-count": "1" } }),
        await post(batch.map(asCloudEvent), { contentType: "application/cloudevents-batch+json", headers: { "aeg-delivery-count": "2" } }),
      ]);
      for (const response of observed.result) {
        expect(response.status).toBe(200);
        expect((response.body?.events as Json[]).map((result) => result.outcome)).toEqual(["duplicate", "out_of_scope", "duplicate", "duplicate", "duplicate", "duplicate"]);
      }
      expect([observed.mutations, observed.lifecycle]).toEqual([0, 0]);
      expect(observed.events).toContainEqual(event("duplicate", "upsert", 2));
      for (const sent of batch) {
        const stream = sent === batch[0] ? STREAMS.mutations.name : STREAMS.lifecycle.name;
        if (sent !== batch[1]) expect(await storedById(bus, stream, sent.id)).toHaveLength(1);
      }
    });

    it("answers 200 to an event type it does not act on, and 400 naming the index and field of a malformed event", async () => {
      const foreign = { ...gridEvent("azure-eventgrid-secretnewversioncreated.json"), eventType: "Microsoft.Storage.BlobCreated" };
      const broken = gridEvents("azure-eventgrid-batch-mixed.json");
      delete (broken[4] as Json).eventTime;
      (broken[2] as GridEvent).data["EXP"] = "tomorrow";
      const observed = await observe(async () => [await post([foreign]), await post(broken), await post("{not json")]);
      const [ignored, malformed, notJson] = observed.result as [EventGridDelivery, EventGridDelivery, EventGridDelivery];
      expect(ignored).toMatchObject({ status: 200, body: { events: [{ id: foreign.id, outcome: "ignored", reason: "unsupported_event_type" }] } });
      expect(malformed.status).toBe(400);
      expect(malformed.body).toStrictEqual({
        error: { code: "invalid_event", message: expect.any(String), issues: ["[4].eventTime: required"] },
      });
      expect(notJson).toMatchObject({ status: 400, body: { error: { code: "malformed_json" } } });
      expect([observed.mutations, observed.lifecycle]).toEqual([0, 0]);
      expect(observed.events).toEqual([
        event("ignored", "unsupported_event_type"),
        event("rejected", "batch_rejected", 5),
        event("rejected", "invalid_event"),
        event("rejected", "malformed_json"),
      ]);
    });
  });

  describe("Entra bearer tokens", () => {
    it("accepts v1 (App ID URI audience) and v2 (client id audience) tokens, and fetches the JWKS once", async () => {
      const [v1, v2] = [gridEvent("azure-eventgrid-secretnewversioncreated.json"), gridEvent("azure-eventgrid-secretnewversioncreated.json")];
      const responses = [await post([v1], { token: await token({}, { version: "v1" }) }), await post([v2], { token: await token({}, { version: "v2" }) })];
      expect(responses.map((response) => response.status)).toEqual([200, 200]);
      // Warm-up loaded the keys at boot; dozens of deliveries later, still one fetch (cache, no per-request fetch).
      expect(issuer.requests.filter((path) => path.endsWith("/keys"))).toHaveLength(1);
    });

    const now = (): number => Math.floor(Date.now() / 1000);
    const badTokens: Array<[string, () => Promise<string> | string]> = [
      ["forged: signed by another key under the issuer's kid", () => token({}, { key: issuer.attackerKey })],
      ["forged: signed by another key under its own kid", () => token({}, { key: issuer.attackerKey, kid: "attacker" })],
      ["expired beyond the clock tolerance", () => token({ iat: now() - 7200, nbf: now() - 7200, exp: now() - 120 })],
      ["not yet valid beyond the clock tolerance", () => token({ nbf: now() + 600 })],
      ["for another audience", () => token({ aud: "api://00000000-0000-0000-0000-000000000000" })],
      ["from another issuer", () => token({ iss: "https://sts.windows.net/00000000-0000-0000-0000-000000000000/" })],
      ["unsigned (alg: none)", () => {
        const unsigned = issuer.unsigned();
        presented.push(unsigned);
        return unsigned;
      }],
      ["HS256, keyed with the issuer's public key", () => token({}, { alg: "HS256", key: new TextEncoder().encode(issuer.publicPem) })],
      ["without the Event Grid app role", () => token({ roles: ["Reader"] })],
      ["issued to another application than Event Grid", () => token({ appid: "11111111-1111-1111-1111-111111111111" })],
    ];

    it.each(badTokens)("answers 401 to a token %s, and stores nothing", async (_, mint) => {
      const sent = gridEvents("azure-eventgrid-batch-mixed.json");
      const observed = await observe(async () => post(sent, { token: await mint() }));
      expect(observed.result.status).toBe(401);
      expect(observed.result.headers.get("www-authenticate")).toBe('Bearer realm="credmesh"');
      expect(observed.result.body).toStrictEqual({ error: { code: "unauthorized", message: expect.any(String) } });
      expect([observed.mutations, observed.lifecycle]).toEqual([0, 0]);
      expect(observed.events).toEqual([event("rejected", "unauthenticated")]);
      expect(observed.requests).toEqual([request(401)]);
    });

    it("answers 401 without any token, or with Basic credentials", async () => {
      const sent = gridEvents("azure-eventgrid-secretnewversioncreated.json");
      const observed = await observe(async () => [
        await deliverEventGrid(ingest.url, { body: sent }),
        await deliverEventGrid(ingest.url, { body: sent, headers: { authorization: "Basic ZXZlbnRncmlkOnNlY3JldA==" } }),
      ]);
      expect(observed.result.map((response) => response.status)).toEqual([401, 401]);
      expect([observed.mutations, observed.lifecycle]).toEqual([0, 0]);
    });

    it("never writes a token into a log line or a metric", async () => {
      expect(presented.length).toBeGreaterThan(10);
      expect(ingest.process.lines.some((line) => line.includes('"delivery refused: not authenticated"'))).toBe(true);
      const metrics = await (await fetch(`${ingest.url}/metrics`)).text();
      for (const presentedToken of presented) {
        const signature = presentedToken.split(".")[2] ?? "";
        for (const haystack of [...ingest.process.lines, metrics]) {
          expect(haystack.includes(presentedToken)).toBe(false);
          if (signature.length > 10) expect(haystack.includes(signature)).toBe(false);
        }
      }
    });
  });

  describe("bus outage", () => {
    it("answers 503 with Retry-After while the bus is down, and the retried batch is stored once after it returns", async () => {
      const batch = gridEvents("azure-eventgrid-batch-mixed.json");
      await nats.stop();
      await ingest.process.waitForLine(/"nats":"disconnect"/, 10_000);
      const refused = await post(batch);
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(refused.body).toMatchObject({ error: { code: "bus_unavailable" } });

      await nats.start();
      // Readiness is an external condition with no notification to await: a bounded poll.
      await until("ingest ready again", async () => (await fetch(`${ingest.url}/readyz`)).status === 200, 30_000, 100);
      await bus.close();
      bus = await nats.connect(undefined, "eventgrid-integration-test");

      const retried = await post(batch, { headers: { "aeg-delivery-count": "1" } });
      expect(retried.status).toBe(200);
      expect(await storedById(bus, STREAMS.mutations.name, (batch[0] as GridEvent).id)).toHaveLength(1);
      for (const sent of batch.slice(2)) expect(await storedById(bus, STREAMS.lifecycle.name, sent.id)).toHaveLength(1);
    });
  });
});
