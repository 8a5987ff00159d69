import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { NatsConnection } from "@nats-io/transport-node";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { STREAMS } from "@credmesh/bus-names";
import { decodeLifecycleEvent, decodeMutationEvent } from "@credmesh/events";
import { fixtureNames, readFixture } from "../support/fixtures.ts";
import { startNats, type NatsPart } from "../support/parts.ts";
import { streamMessages } from "./support/eventgrid-delivery.ts";
import { credentialEnv, newCredentials, scrape, startIngest, type Ingest, type IngestCredentials } from "./support/ingest.ts";

/**
 * Property-based fuzzing of both webhooks (issue 12): real fixtures mutated at random paths,
 * arbitrary JSON and bytes, odd content types, charsets and encodings, wrong methods and headers,
 * with valid and invalid credentials — sent over real sockets to a real ingest in front of a real
 * nats-server. Whatever arrives, ingest must answer a structured 4xx or a 2xx (never a 5xx while
 * the bus is up), never reset a connection, count every request, store only valid CloudEvents,
 * and stay healthy. The seed is fixed so a failure replays; fast-check prints it and the
 * shrunk counterexample.
 */

/** 500 runs of 20 concurrent requests: 10,000 requests. */
const RUNS = Number(process.env["CREDMESH_FUZZ_RUNS"] ?? 500);
const BATCH = 20;
const SEED = Number(process.env["CREDMESH_FUZZ_SEED"] ?? 20261207);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Target = "eventbridge" | "eventgrid";

interface FuzzRequest {
  target: Target;
  method: string;
  headers: Record<string, string>;
  body: Buffer;
  chunked: boolean;
  /** What was done to the body, for the failure message. */
  label: string;
}

interface Answer {
  status: number;
  text: string;
  error?: string;
}

const EVENTBRIDGE_FIXTURES = fixtureNames().filter((name) => /^aws-(cloudtrail|native|input-transformer)-/.test(name));
const EVENTGRID_FIXTURES = fixtureNames().filter((name) => /^azure-(eventgrid|cloudevents)-/.test(name) && !name.includes("response") && !name.includes("headers"));

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/json; charset=UTF-8",
  "application/json; charset=utf-16",
  "application/json; charset=iso-8859-1",
  "application/cloudevents+json; charset=utf-8",
  "application/cloudevents-batch+json; charset=utf-8",
  "text/plain",
  "text/json",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=----x",
  "application/octet-stream",
  "application/json;;;charset",
  "*/*",
  "",
];

/** Replaces, deletes or re-types the value at a random path of a JSON document. */
function mutateAt(doc: Json, path: readonly number[], action: number, replacement: Json): Json {
  if (path.length === 0 || doc === null || typeof doc !== "object") return replacement;
  const entries: [string | number, Json][] = Array.isArray(doc) ? doc.map((value, index) => [index, value]) : Object.entries(doc);
  if (entries.length === 0) return replacement;
  const [key, child] = entries[(path[0] ?? 0) % entries.length] as [string | number, Json];
  const rest = path.slice(1);
  const copy: Json = Array.isArray(doc) ? [...doc] : { ...doc };
  const set = (value: Json | undefined): void => {
    if (Array.isArray(copy)) {
      if (value === undefined) copy.splice(key as number, 1);
      else copy[key as number] = value;
    } else if (value === undefined) {
      delete (copy as Record<string, Json>)[key as string];
    } else {
      (copy as Record<string, Json>)[key as string] = value;
    }
  };
  if (rest.length > 0 && child !== null && typeof child === "object") {
    set(mutateAt(child, rest, action, replacement));
    return copy;
  }
  switch (action % 4) {
    case 0:
      set(undefined); // a required field vanishes
      break;
    case 1:
      set(replacement); // any JSON in its place
      break;
    case 2:
      set(typeof child === "string" ? `${child}${JSON.stringify(replacement)}` : [child]); // grown or wrapped
      break;
    default:
      set(typeof child === "string" ? child.toUpperCase() : JSON.stringify(child)); // re-typed
  }
  return copy;
}

const mutation = fc.record({
  path: fc.array(fc.nat({ max: 40 }), { minLength: 0, maxLength: 6 }),
  action: fc.nat({ max: 3 }),
  replacement: fc.oneof(
    fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.constantFrom<Json>(null, "", 0, -1, 1e308, "../../etc/passwd", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/x-AbCdEf", "\u0000", "💥"),
  ),
});

/** A real fixture, 1–3 mutations, sometimes a fresh id so it is not a duplicate of an earlier one. */
const mutatedFixture = (names: readonly string[]): fc.Arbitrary<{ doc: Json; label: string }> =>
  fc.record({ name: fc.constantFrom(...names), mutations: fc.array(mutation, { minLength: 0, maxLength: 3 }), freshId: fc.boolean() }).map(({ name, mutations, freshId }) => {
    let doc = readFixture<Json>(name);
    if (freshId) doc = withFreshIds(doc);
    for (const m of mutations) doc = mutateAt(doc, m.path, m.action, m.replacement);
    return { doc, label: `${name} with ${mutations.length} mutation(s)` };
  });

function withFreshIds(doc: Json): Json {
  if (Array.isArray(doc)) return doc.map(withFreshIds);
  if (doc !== null && typeof doc === "object" && typeof doc["id"] === "string") return { ...doc, id: randomUUID() };
  return doc;
}

const body = (names: readonly string[]): fc.Arbitrary<{ json?: Json; bytes?: Buffer; label: string }> =>
  fc.oneof(
    { weight: 6, arbitrary: mutatedFixture(names).map(({ doc, label }) => ({ json: doc, label })) },
    { weight: 2, arbitrary: (fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>).map((json) => ({ json, label: "arbitrary JSON" })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }).map((bytes) => ({ bytes: Buffer.from(bytes), label: "arbitrary bytes" })) },
    { weight: 1, arbitrary: fc.constantFrom("", "{", "[", "null", "[]", "{}", '{"a":', "[{}]".repeat(500)).map((text) => ({ bytes: Buffer.from(text), label: `text ${JSON.stringify(text.slice(0, 12))}` })) },
  );

/** How the serialized body travels: charset, BOM, truncation, compression claimed or real. */
const ENCODINGS = ["utf8", "utf8-bom", "utf16le", "latin1", "truncated", "gzip", "gzip-claimed", "deep"] as const;
type Encoding = (typeof ENCODINGS)[number];

function encode(text: string, encoding: Encoding, cut: number): { bytes: Buffer; headers: Record<string, string> } {
  switch (encoding) {
    case "utf8":
      return { bytes: Buffer.from(text, "utf8"), headers: {} };
    case "utf8-bom":
      return { bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, "utf8")]), headers: {} };
    case "utf16le":
      return { bytes: Buffer.from(text, "utf16le"), headers: {} };
    case "latin1":
      return { bytes: Buffer.from(text, "latin1"), headers: {} };
    case "truncated": {
      const bytes = Buffer.from(text, "utf8");
      return { bytes: bytes.subarray(0, cut % Math.max(1, bytes.length)), headers: {} };
    }
    case "gzip":
      return { bytes: gzipSync(text), headers: { "content-encoding": "gzip" } };
    case "gzip-claimed":
      return { bytes: Buffer.from(text, "utf8"), headers: { "content-encoding": "gzip" } };
    case "deep":
      // Deeply nested JSON: a parser that recurses must not overflow the stack.
      return { bytes: Buffer.from(`${"[".repeat(20_000)}${"]".repeat(20_000)}`), headers: {} };
  }
}

function requestArbitrary(credentials: IngestCredentials, gridKey: string): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      target: fc.constantFrom<Target>("eventbridge", "eventgrid"),
      method: fc.oneof({ weight: 12, arbitrary: fc.constant("POST") }, { weight: 1, arbitrary: fc.constantFrom("GET", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD") }),
      auth: fc.oneof({ weight: 8, arbitrary: fc.constant("valid" as const) }, { weight: 1, arbitrary: fc.constantFrom("missing" as const, "wrong" as const, "basic" as const) }),
      contentType: fc.oneof({ weight: 4, arbitrary: fc.constant("application/json; charset=utf-8") }, { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) }, { weight: 1, arbitrary: fc.string({ maxLength: 30 }) }),
      encoding: fc.oneof({ weight: 10, arbitrary: fc.constant<Encoding>("utf8") }, { weight: 4, arbitrary: fc.constantFrom(...ENCODINGS) }),
      cut: fc.nat(),
      chunked: fc.boolean(),
      aegEventType: fc.constantFrom("Notification", "Notification", "Notification", "SubscriptionValidation", "SubscriptionDeletion", "", "💥"),
      ebBody: body(EVENTBRIDGE_FIXTURES),
      egBody: body(EVENTGRID_FIXTURES),
    })
    .map((r) => {
      const chosen = r.target === "eventbridge" ? r.ebBody : r.egBody;
      const text = chosen.json === undefined ? undefined : JSON.stringify(chosen.json);
      const { bytes, headers } = text === undefined ? { bytes: chosen.bytes ?? Buffer.alloc(0), headers: {} } : encode(text, r.encoding, r.cut);
      const all: Record<string, string> = { ...headers };
      if (r.contentType !== "") all["content-type"] = r.contentType.replace(/[^\t\x20-\x7e]/g, "");
      if (r.target === "eventbridge") {
        all["user-agent"] = "Amazon/EventBridge/ApiDestinations";
        if (r.auth === "valid") all[credentials.apiKeyHeader.toLowerCase()] = credentials.apiKeys[0];
        if (r.auth === "wrong") all[credentials.apiKeyHeader.toLowerCase()] = randomBytes(24).toString("base64url");
        if (r.auth === "basic") all["authorization"] = `Basic ${Buffer.from(`${credentials.basicUser}:${credentials.basicPassword}`).toString("base64")}`;
      } else {
        all["aeg-event-type"] = r.aegEventType.replace(/[^\x20-\x7e]/g, "?");
        all["aeg-subscription-name"] = "FUZZ";
        all["aeg-delivery-count"] = "0";
        if (r.auth === "valid") all["authorization"] = `Bearer ${gridKey}`;
        if (r.auth === "wrong" || r.auth === "basic") all["authorization"] = `Bearer ${randomBytes(32).toString("base64url")}`;
      }
      const label = `${r.method} ${r.target} auth=${r.auth} type=${JSON.stringify(r.contentType)} enc=${r.encoding} chunked=${r.chunked}: ${chosen.label}`;
      return {
        // fast-check prints counterexamples with this, not with the body's bytes.
        [fc.toStringMethod]: () => label,
        target: r.target,
        method: r.method,
        headers: all,
        body: r.method === "GET" || r.method === "HEAD" ? Buffer.alloc(0) : bytes,
        chunked: r.chunked,
        label,
      };
    });
}

/**
 * Rules that cover the fixtures' own secrets (account 123456789012 in us-east-1, the vaults
 * kv-payments-prod and kv-identity-prod), so mutated fixtures reach normalization and the bus
 * rather than stopping at the scope check.
 */
async function writeFuzzRules(dir: string): Promise<string> {
  const file = join(dir, "fuzz-rules.yaml");
  await writeFile(
    file,
    [
      "rules:",
      "  - id: fuzz-aws-to-azure",
      "    source: { cloud: aws, accounts: ['123456789012'], regions: [us-east-1, eu-west-1], namePrefixes: [''] }",
      "    destination: { cloud: azure, vaultUrl: https://credmesh-fuzz.vault.azure.net }",
      "  - id: fuzz-azure-to-aws",
      "    source: { cloud: azure, vaults: [kv-payments-prod, kv-identity-prod], namePrefixes: [''] }",
      "    destination: { cloud: aws, account: '123456789012', region: us-east-1 }",
      "",
    ].join("\n"),
  );
  return file;
}

describe("ingest fuzzed: both webhooks, 10,000 requests", () => {
  let nats: NatsPart;
  let ingest: Ingest;
  let bus: NatsConnection;
  let dir: string;
  const credentials = newCredentials();
  const gridKey = randomBytes(32).toString("base64url");
  const agent = new Agent({ keepAlive: true, maxSockets: BATCH });

  beforeAll(async () => {
    [nats, dir] = await Promise.all([startNats(), mkdtemp(join(tmpdir(), "credmesh-fuzz-"))]);
    const keysFile = join(dir, "eventgrid-keys");
    await writeFile(keysFile, `${gridKey}\n`, { mode: 0o600 });
    ingest = await startIngest({
      ...nats.env({ kind: "ingest" }),
      CREDMESH_RULES_FILE: await writeFuzzRules(dir),
      CREDMESH_LOG_LEVEL: "info",
      CREDMESH_EVENTGRID_AUTH: "shared-key",
      CREDMESH_EVENTGRID_SHARED_KEYS_FILE: keysFile,
      ...credentialEnv(credentials),
    });
    bus = await nats.connect(undefined, "webhook-fuzz-test");
  });

  afterEach((context) => {
    if (context.task.result?.state === "fail") console.error(`--- ingest ---\n${ingest?.process.tail(30)}`);
  });

  afterAll(async () => {
    agent.destroy();
    await bus?.close();
    await ingest?.stop();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const lastOnSocket = new WeakMap<object, string>();
  const send = (req: FuzzRequest): Promise<Answer> =>
    new Promise((resolve) => {
      const headers: Record<string, string | number> = { ...req.headers };
      // Node's client frames GET/DELETE/OPTIONS bodies as chunked only when told to.
      if (req.chunked) headers["transfer-encoding"] = "chunked";
      else headers["content-length"] = req.body.length;
      const outgoing = request(
        `${ingest.url}/webhooks/${req.target}`,
        { method: req.method, headers, agent, timeout: 30_000 },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
          response.on("error", (error) => resolve({ status: response.statusCode ?? 0, text: "", error: `response: ${error.message}` }));
        },
      );
      outgoing.on("timeout", () => outgoing.destroy(new Error("no answer within 30 s")));
      // A failure on a reused keep-alive socket is usually caused by the request before it: name it.
      let previous = "a new connection";
      outgoing.on("socket", (socket) => {
        previous = lastOnSocket.get(socket) ?? previous;
        lastOnSocket.set(socket, req.label);
      });
      outgoing.on("error", (error) => resolve({ status: 0, text: "", error: `request: ${error.message} (on ${outgoing.reusedSocket ? `a socket last used by: ${previous}` : "a new connection"})` }));
      if (req.chunked && req.body.length > 0) {
        const half = Math.floor(req.body.length / 2);
        outgoing.write(req.body.subarray(0, half));
        outgoing.end(req.body.subarray(half));
      } else {
        outgoing.end(req.body);
      }
    });

  const webhookRequests = async (): Promise<number> => {
    const metrics = await scrape(ingest.url);
    return metrics
      .filter((sample) => sample.name === "credmesh_ingest_requests_total")
      .filter((sample) => sample.labels["endpoint"] === "eventbridge" || sample.labels["endpoint"] === "eventgrid")
      .reduce((sum, sample) => sum + sample.value, 0);
  };

  it("answers every request with a structured 2xx/4xx, never resets, counts each, stores only valid events", async () => {
    const before = await webhookRequests();
    const statuses = new Map<number, number>();
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(requestArbitrary(credentials, gridKey), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const answers = await Promise.all(batch.map(send));
        sent += batch.length;
        answers.forEach((answer, index) => {
          const req = batch[index] as FuzzRequest;
          const what = `${req.label} → ${answer.status} ${answer.error ?? answer.text.slice(0, 200)}`;
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          expect(answer.error, what).toBeUndefined();
          expect(answer.status, what).toBeGreaterThanOrEqual(200);
          expect(answer.status, what).toBeLessThan(500);
          if (req.method === "HEAD") return;
          const parsed = JSON.parse(answer.text) as { error?: { code?: unknown; message?: unknown } };
          if (answer.status >= 400) {
            expect(typeof parsed.error?.code, what).toBe("string");
            expect(typeof parsed.error?.message, what).toBe("string");
          }
        });
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    console.info(`fuzz: ${sent} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
    expect(sent).toBe(RUNS * BATCH);
    // Every request was counted once, under its endpoint and status.
    expect(await webhookRequests()).toBe(before + sent);
    // Some inputs were valid, in scope and stored; many were refused.
    expect([...statuses.keys()].some((status) => status < 300)).toBe(true);
    expect([...statuses.keys()].some((status) => status >= 400)).toBe(true);

    // Nothing malformed reached the bus: every stored message is a valid canonical event with a message id.
    const mutations = await streamMessages(bus, STREAMS.mutations.name);
    const lifecycle = await streamMessages(bus, STREAMS.lifecycle.name);
    expect(mutations.length + lifecycle.length).toBeGreaterThan(0);
    for (const message of mutations) {
      expect(() => decodeMutationEvent(message.data), `mutation seq ${message.seq}`).not.toThrow();
      expect(message.header.get("Nats-Msg-Id")).not.toBe("");
    }
    for (const message of lifecycle) {
      expect(() => decodeLifecycleEvent(message.data), `lifecycle seq ${message.seq}`).not.toThrow();
      expect(message.header.get("Nats-Msg-Id")).not.toBe("");
    }
    console.info(`fuzz: stored ${mutations.length} mutation and ${lifecycle.length} lifecycle events, all valid`);

    // Still healthy and ready, and no request made it log an unexpected failure.
    expect((await fetch(`${ingest.url}/healthz`, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
    expect((await fetch(`${ingest.url}/readyz`, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
    expect(ingest.process.lines.filter((line) => line.includes('"request failed"'))).toEqual([]);
  });
});
