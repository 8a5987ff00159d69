import { once } from "node:events";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { Registry } from "prom-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { PublishResult } from "@credmesh/bus";
import { CredmeshError } from "@credmesh/errors";
import type { LifecycleEvent, MutationEvent } from "@credmesh/events";
import { Sensitive, createLogger } from "@credmesh/logging";
import { createMetrics } from "@credmesh/metrics";
import { opsRoutes } from "@credmesh/runtime";
import { EventBridgeAuthenticator } from "../auth/eventbridge-auth.ts";
import { failed, type AuthResult, type WebhookAuthenticator } from "../auth/eventgrid-auth.ts";
import { TEST_RULES, loadAzureFixture } from "../eventgrid/test-fixtures.ts";
import { createIngestServer } from "./server.ts";

/**
 * The Event Grid route over a loopback socket with a fake bus: what Event Grid is answered for
 * each delivery, what reaches the bus, and what is counted. The real bus and process are in
 * test/integration/eventgrid-*.test.ts; this covers what a real bus cannot be made to do on cue
 * (fail one publish in the middle of a batch).
 */

type Json = Record<string, unknown>;

class FakeBus {
  readonly stored = new Map<string, { subject: string; event: MutationEvent | LifecycleEvent }>();
  /** Ids whose publish fails as if JetStream did not answer. */
  failing = new Set<string>();
  /** Ids whose publish throws an unexpected (non-bus) error. */
  broken = new Set<string>();

  publishMutation(event: MutationEvent): Promise<PublishResult> {
    return this.#publish(event, `credmesh.mutation.${event.data.destination.cloud}.p00`);
  }

  publishLifecycle(event: LifecycleEvent): Promise<PublishResult> {
    return this.#publish(event, `credmesh.lifecycle.${event.data.objectType}.${event.data.kind}`);
  }

  async #publish(event: MutationEvent | LifecycleEvent, subject: string): Promise<PublishResult> {
    await new Promise((resolve) => setImmediate(resolve));
    if (this.broken.has(event.id)) throw new TypeError("a bug");
    if (this.failing.has(event.id)) throw new CredmeshError("bus_unavailable", `publish to ${subject} was not acknowledged`);
    const duplicate = this.stored.has(event.id);
    if (!duplicate) this.stored.set(event.id, { subject, event });
    return { subject, stream: "S", seq: this.stored.size, duplicate };
  }
}

class FakeAuth implements WebhookAuthenticator {
  readonly mode = "entra" as const;
  readonly challenge = 'Bearer realm="credmesh"';
  next: AuthResult = { ok: true, principal: { scheme: "entra" } };
  authenticate(): Promise<AuthResult> {
    return Promise.resolve(this.next);
  }
  warmUp(): Promise<void> {
    return Promise.resolve();
  }
}

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJlLW1hcmtlcg";

describe("POST/OPTIONS /webhooks/eventgrid", () => {
  const bus = new FakeBus();
  const auth = new FakeAuth();
  const lines: string[] = [];
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const logger = createLogger({ service: "ingest", level: "debug", destination: { write: (line: string) => void lines.push(line) } });
    const deps = { publisher: bus, rules: TEST_RULES, metrics, logger };
    server = createIngestServer({
      ...deps,
      auth: new EventBridgeAuthenticator({ apiKeyHeader: "x-api-key", apiKeys: [new Sensitive("k")], basicCredentials: [] }),
      publisher: bus as never,
      bodyLimitBytes: 4_096,
      eventGrid: { ...deps, auth, bodyLimitBytes: 8_192, publishConcurrency: 2, allowedOrigins: ["eventgrid.azure.net"] },
      ops: opsRoutes(metrics.registry, {}),
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/eventgrid`;
  });

  afterEach(() => {
    auth.next = { ok: true, principal: { scheme: "entra" } };
    bus.failing.clear();
    bus.broken.clear();
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", authorization: `Bearer ${TOKEN}`, ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Json };
  };

  const counted = async (): Promise<Record<string, number>> => {
    const metric = await metrics.ingestEvents.get();
    return Object.fromEntries(
      metric.values.filter((value) => value.labels.source === "azure.eventgrid").map((value) => [`${value.labels.outcome}/${value.labels.reason}`, value.value]),
    );
  };

  const delta = async <T>(action: () => Promise<T>): Promise<{ result: T; counts: Record<string, number> }> => {
    const before = await counted();
    const result = await action();
    const after = await counted();
    const counts: Record<string, number> = {};
    for (const [key, value] of Object.entries(after)) if (value !== (before[key] ?? 0)) counts[key] = value - (before[key] ?? 0);
    return { result, counts };
  };

  /** The mixed fixture with ids of its own, so that each test starts from an empty dedupe state. */
  const mixedBatch = (tag: string): Json[] =>
    loadAzureFixture<Json[]>("azure-eventgrid-batch-mixed.json").map((event, index) => ({ ...event, id: `${tag}-${index}` }));

  it("publishes every event of the mixed batch and answers 200 with one result per event, in order", async () => {
    const { result, counts } = await delta(() => post(mixedBatch("mixed")));
    expect(result.status).toBe(200);
    expect(result.body).toStrictEqual({
      status: "accepted",
      events: [
        { id: "mixed-0", outcome: "published", subject: "credmesh.mutation.aws.p00" },
        { id: "mixed-1", outcome: "out_of_scope", reason: "no_matching_rule" },
        { id: "mixed-2", outcome: "published", subject: "credmesh.lifecycle.key.new_version" },
        { id: "mixed-3", outcome: "published", subject: "credmesh.lifecycle.certificate.new_version" },
        { id: "mixed-4", outcome: "published", subject: "credmesh.lifecycle.secret.near_expiry" },
        { id: "mixed-5", outcome: "published", subject: "credmesh.lifecycle.vault.access_policy_changed" },
      ],
    });
    expect(counts).toStrictEqual({
      "published/upsert": 1,
      "published/key.new_version": 1,
      "published/certificate.new_version": 1,
      "published/secret.near_expiry": 1,
      "published/vault.access_policy_changed": 1,
      "out_of_scope/no_matching_rule": 1,
    });
  });

  it("answers 503 + Retry-After when one publish fails, and the retried batch stores nothing twice", async () => {
    bus.failing.add("partial-2");
    const refused = await delta(() => post(mixedBatch("partial")));
    expect(refused.result.status).toBe(503);
    expect(refused.result.headers.get("retry-after")).toBe("30");
    expect(refused.result.body).toMatchObject({ error: { code: "bus_unavailable" } });
    const storedFirst = [...bus.stored.keys()].filter((id) => id.startsWith("partial-"));
    expect(storedFirst).not.toContain("partial-2");
    // Out-of-scope and ignored events are only counted once the batch is accepted.
    expect(refused.counts["out_of_scope/no_matching_rule"]).toBeUndefined();
    expect(Object.entries(refused.counts).filter(([key]) => key.startsWith("bus_unavailable/")).length).toBeGreaterThan(0);

    bus.failing.clear();
    const retried = await delta(() => post(mixedBatch("partial"), { "aeg-delivery-count": "1" }));
    expect(retried.result.status).toBe(200);
    const outcomes = (retried.result.body.events as Json[]).map((event) => event.outcome);
    expect(outcomes.filter((outcome) => outcome === "duplicate")).toHaveLength(storedFirst.length);
    expect([...bus.stored.keys()].filter((id) => id.startsWith("partial-")).sort()).toEqual(["partial-0", "partial-2", "partial-3", "partial-4", "partial-5"]);
  });

  it("answers 500 (Event Grid retries) when a publish fails for another reason than the bus", async () => {
    bus.broken.add("bug-0");
    expect((await post(mixedBatch("bug").slice(0, 1))).status).toBe(500);
  });

  it("answers the validation handshake with exactly the validation response", async () => {
    const response = await post(loadAzureFixture("azure-eventgrid-subscriptionvalidation.json"), { "aeg-event-type": "SubscriptionValidation" });
    expect(response.status).toBe(200);
    expect(response.body).toStrictEqual(loadAzureFixture("azure-eventgrid-subscriptionvalidation-response.json"));
  });

  it("answers 401 with a Bearer challenge, reads no body, and never logs the token", async () => {
    auth.next = failed("bad_signature", { detail: { alg: "RS256", iss: "x" } });
    const { result, counts } = await delta(() => post(mixedBatch("unauth")));
    expect(result.status).toBe(401);
    expect(result.headers.get("www-authenticate")).toBe('Bearer realm="credmesh"');
    expect(result.body).toStrictEqual({ error: { code: "unauthorized", message: "missing or invalid Event Grid credentials" } });
    expect(counts).toStrictEqual({ "rejected/unauthenticated": 1 });
    expect([...bus.stored.keys()].some((id) => id.startsWith("unauth-"))).toBe(false);
    const refusal = lines.find((line) => line.includes("not authenticated"));
    expect(refusal).toContain('"failure":"bad_signature"');
    expect(lines.filter((line) => line.includes(TOKEN) || line.includes("c2lnbmF0dXJlLW1hcmtlcg"))).toEqual([]);
  });

  it("answers 503 when the signing keys cannot be loaded, so that Event Grid retries instead of dropping", async () => {
    auth.next = failed("signing_keys_unavailable");
    const response = await post(mixedBatch("keys"));
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("30");
    expect(response.body).toMatchObject({ error: { code: "authentication_unavailable" } });
  });

  it("refuses a malformed batch with 400 naming the index and field, and counts every event of it", async () => {
    const batch = mixedBatch("bad");
    delete (batch[3] as Json).eventTime;
    const { result, counts } = await delta(() => post(batch));
    expect(result.status).toBe(400);
    expect(result.body).toMatchObject({ error: { code: "invalid_event", issues: ["[3].eventTime: required"] } });
    expect(counts).toStrictEqual({ "rejected/invalid_event": 1, "rejected/batch_rejected": 5 });
    expect([...bus.stored.keys()].some((id) => id.startsWith("bad-"))).toBe(false);
  });

  it("accepts the three Event Grid content types and refuses others (415)", async () => {
    const single = { ...loadAzureFixture<Json>("azure-cloudevents-secretnewversioncreated.json"), id: "ce-single" };
    expect((await post(single, { "content-type": "application/cloudevents+json; charset=utf-8" })).status).toBe(200);
    expect((await post([{ ...single, id: "ce-batch" }], { "content-type": "application/cloudevents-batch+json" })).status).toBe(200);
    expect((await post(single, { "content-type": "text/plain" })).status).toBe(415);
  });

  it("refuses a body over the Event Grid limit with 413", async () => {
    const big = mixedBatch("big");
    (big[0] as Json).padding = "x".repeat(9_000);
    expect((await post(big)).status).toBe(413);
  });

  it("answers the OPTIONS handshake without credentials, and 405 to other methods", async () => {
    const options = await fetch(url, { method: "OPTIONS", headers: { "WebHook-Request-Origin": "eventgrid.azure.net", "WebHook-Request-Rate": "120" } });
    expect(options.status).toBe(200);
    expect(Object.fromEntries(["webhook-allowed-origin", "webhook-allowed-rate", "allow"].map((name) => [name, options.headers.get(name)]))).toStrictEqual({
      "webhook-allowed-origin": "eventgrid.azure.net",
      "webhook-allowed-rate": "*",
      allow: "POST, OPTIONS",
    });
    expect(await options.text()).toBe("");
    const get = await fetch(url);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST, OPTIONS");
  });
});

describe("/webhooks/eventgrid when Event Grid is not configured", () => {
  it("answers 404 and leaves the EventBridge webhook alone", async () => {
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const server = createIngestServer({
      auth: new EventBridgeAuthenticator({ apiKeyHeader: "x-api-key", apiKeys: [new Sensitive("k")], basicCredentials: [] }),
      publisher: new FakeBus() as never,
      rules: TEST_RULES,
      bodyLimitBytes: 4_096,
      metrics,
      logger: createLogger({ service: "ingest", level: "silent" }),
      ops: opsRoutes(metrics.registry, {}),
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const grid = await fetch(`${base}/webhooks/eventgrid`, { method: "POST", headers: { "content-type": "application/json" }, body: "[]" });
      expect(grid.status).toBe(404);
      expect(await grid.json()).toMatchObject({ error: { code: "not_found" } });
      expect((await fetch(`${base}/webhooks/eventbridge`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(401);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
