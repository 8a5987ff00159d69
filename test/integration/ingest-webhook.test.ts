import { randomBytes, randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MUTATION_EVENT_TYPE, decodeMutationEvent, partitionOfEvent } from "@credmesh/events";
import { DEFAULT_PARTITIONS, mutationSubject } from "@credmesh/bus-names";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { startNats, type NatsPart } from "../support/parts.ts";
import {
  AWS_ACCOUNT,
  AWS_REGION,
  RULE_ID,
  basicAuthorization,
  credentialEnv,
  deliver,
  inScopeSecret,
  metricsText,
  mutationCount,
  newCredentials,
  scrape,
  startIngest,
  storedMutations,
  type Delivery,
  type DeliveryOptions,
  type Ingest,
} from "./support/ingest.ts";
import { changes, type SeriesChange } from "./support/prometheus-text.ts";

/**
 * ingest's EventBridge webhook against a real nats-server, as a real process on a real socket:
 * every answer EventBridge can get (FORMATS.md B), what each one leaves on the bus (only a
 * publish does), and what the operator sees in /metrics.
 * @see ../../../shared/SPEC.md sections 2 (ingest) and 5
 */

const EVENTS = "credmesh_ingest_events_total";
const REQUESTS = "credmesh_ingest_requests_total";
const SOURCE = "aws.eventbridge";
const BODY_LIMIT_BYTES = 4_096;

type Json = Record<string, unknown>;

describe("ingest: the EventBridge webhook", () => {
  let nats: NatsPart;
  let ingest: Ingest;
  let bus: NatsConnection;
  const credentials = newCredentials();
  /** Wrong credentials presented in 401 cases; none may ever be echoed in a log line or a metric. */
  const presented: string[] = [];
  const wrong = (label: string): string => {
    const value = `${label}-${randomBytes(12).toString("base64url")}`;
    presented.push(value);
    return value;
  };

  beforeAll(async () => {
    nats = await startNats();
    ingest = await startIngest({
      ...nats.env({ kind: "ingest" }),
      CREDMESH_INGEST_BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
      ...credentialEnv(credentials),
    });
    bus = await nats.connect(undefined, "ingest-integration-test");
  });

  afterEach((context) => {
    if (context.task.result?.state === "fail") console.error(`--- ingest ---\n${ingest?.process.tail(20)}`);
  });

  afterAll(async () => {
    await bus?.close();
    await ingest?.stop();
    await nats?.stop();
  });

  const withKey = (index: 0 | 1 = 0): Record<string, string> => ({ [credentials.apiKeyHeader]: credentials.apiKeys[index] });
  const withBasic = (): Record<string, string> => ({
    authorization: basicAuthorization(credentials.basicUser, credentials.basicPassword),
  });
  const post = (options: DeliveryOptions): Promise<Delivery> => deliver(ingest.url, { headers: withKey(), ...options });
  const createEvent = (name: string): Json => cloudTrailEvent("aws-cloudtrail-createsecret.json", inScopeSecret(name), { versionId: randomUUID() });

  /**
   * Runs `action` and reports what it changed: messages in the mutations stream, and the series
   * of both ingest counters that moved. Our own /metrics scrapes (endpoint "other", 200) are left
   * out of the request series.
   */
  const observe = async <T>(action: () => Promise<T>) => {
    const [messagesBefore, metricsBefore] = [await mutationCount(bus), await scrape(ingest.url)];
    const result = await action();
    const [messagesAfter, metricsAfter] = [await mutationCount(bus), await scrape(ingest.url)];
    const ownScrape = (change: SeriesChange): boolean => !(change.labels.endpoint === "other" && change.labels.status === "200");
    return {
      result,
      stored: messagesAfter - messagesBefore,
      events: changes(metricsBefore, metricsAfter, EVENTS),
      requests: changes(metricsBefore, metricsAfter, REQUESTS).filter(ownScrape),
    };
  };

  const event = (outcome: string, reason: string, delta = 1): SeriesChange => ({ labels: { source: SOURCE, outcome, reason }, delta });
  const request = (endpoint: string, status: number, delta = 1): SeriesChange => ({ labels: { endpoint, status: String(status) }, delta });

  /** Every refusal is JSON `{error:{code,message,issues?}}` and nothing else. */
  const expectError = (response: Delivery, status: number, code: string): void => {
    expect({ status: response.status, code: (response.body.error as Json | undefined)?.code }).toEqual({ status, code });
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(Object.keys(response.body)).toEqual(["error"]);
    const error = response.body.error as Json;
    expect(Object.keys(error).every((key) => ["code", "message", "issues"].includes(key))).toBe(true);
    expect(error.message).toEqual(expect.any(String));
    expect((error.message as string).length).toBeGreaterThan(0);
    if ("issues" in error) expect(error.issues).toEqual(expect.arrayContaining([expect.any(String)]));
  };

  describe("authentication", () => {
    it("accepts either of two configured API keys, so a key can be rotated without downtime", async () => {
      const [first, second] = [createEvent("rotation/first"), createEvent("rotation/second")];
      const observed = await observe(async () => [
        await post({ body: first, headers: withKey(0) }),
        await post({ body: second, headers: withKey(1) }),
      ]);
      expect(observed.result.map((r) => r.status)).toEqual([202, 202]);
      expect(observed.stored).toBe(2);
      expect(observed.events).toEqual([event("published", "upsert", 2)]);
    });

    it("matches the configured API key header name case-insensitively, as HTTP requires", async () => {
      const response = await post({ body: createEvent("header/case"), headers: { "x-credmesh-key": credentials.apiKeys[0] } });
      expect(response.status).toBe(202);
    });

    it("accepts Basic credentials (EventBridge connection type BASIC)", async () => {
      const observed = await observe(() => deliver(ingest.url, { body: createEvent("basic/ok"), headers: withBasic() }));
      expect(observed.result.status).toBe(202);
      expect(observed.stored).toBe(1);
    });

    it("answers 401 with a Basic challenge for a missing or wrong API key, and stores nothing", async () => {
      const body = createEvent("unauthenticated/api-key");
      const attempts: Record<string, string>[] = [
        {},
        { [credentials.apiKeyHeader]: wrong("wrong-key") },
        { [credentials.apiKeyHeader]: "" },
        // The right key in a header ingest was not told about is no key at all.
        { "x-api-key": credentials.apiKeys[0] },
        // Prefix and suffix of a valid key: no partial or lenient matching.
        { [credentials.apiKeyHeader]: credentials.apiKeys[0].slice(0, -1) },
        { [credentials.apiKeyHeader]: `${credentials.apiKeys[0]}x` },
        // Both keys as one comma-joined value is not one of them.
        { [credentials.apiKeyHeader]: credentials.apiKeys.join(",") },
      ];
      const observed = await observe(async () => {
        const responses: Delivery[] = [];
        for (const headers of attempts) responses.push(await deliver(ingest.url, { body, headers }));
        return responses;
      });
      for (const response of observed.result) {
        expectError(response, 401, "unauthorized");
        expect(response.headers.get("www-authenticate")).toMatch(/^Basic realm="credmesh"/);
      }
      expect(observed.stored).toBe(0);
      expect(observed.events).toEqual([event("rejected", "unauthenticated", attempts.length)]);
      expect(observed.requests).toEqual([request("eventbridge", 401, attempts.length)]);
    });

    it("answers 401 with a Basic challenge for wrong Basic credentials, and stores nothing", async () => {
      const body = createEvent("unauthenticated/basic");
      const authorizations = [
        basicAuthorization(credentials.basicUser, wrong("wrong-password")),
        basicAuthorization(wrong("wrong-user"), credentials.basicPassword),
        basicAuthorization(credentials.basicUser, ""),
        // The password alone, without the user.
        `Basic ${Buffer.from(credentials.basicPassword).toString("base64")}`,
        `Basic ${wrong("not-base64")}!!`,
        // An API key is not a bearer token, nor Basic credentials.
        `Bearer ${credentials.apiKeys[0]}`,
        basicAuthorization(credentials.apiKeys[0], credentials.apiKeys[1]),
      ];
      const observed = await observe(async () => {
        const responses: Delivery[] = [];
        for (const authorization of authorizations) responses.push(await deliver(ingest.url, { body, headers: { authorization } }));
        return responses;
      });
      for (const response of observed.result) {
        expectError(response, 401, "unauthorized");
        expect(response.headers.get("www-authenticate")).toMatch(/^Basic realm="credmesh"/);
      }
      expect(observed.stored).toBe(0);
      expect(observed.events).toEqual([event("rejected", "unauthenticated", authorizations.length)]);
    });
  });

  describe("bad requests", () => {
    /** A valid, in-scope event padded with a large (non-secret) description field. */
    const oversizedEvent = (bytes: number): Json => {
      const body = createEvent("too/large");
      ((body.detail as Json).requestParameters as Json).description = "x".repeat(bytes);
      return body;
    };

    it("answers 413 to a 64 KB body with Content-Length, and the client receives it (no connection reset)", async () => {
      const body = oversizedEvent(64 * 1024);
      const observed = await observe(() => post({ body }));
      expectError(observed.result, 413, "payload_too_large");
      expect(observed.stored).toBe(0);
      expect(observed.events).toEqual([event("rejected", "payload_too_large")]);
      expect(observed.requests).toEqual([request("eventbridge", 413)]);
    });

    it("answers 413 to a 64 KB chunked body (no Content-Length), cut off while streaming", async () => {
      const observed = await observe(() => post({ body: oversizedEvent(64 * 1024), chunked: true }));
      expectError(observed.result, 413, "payload_too_large");
      expect(observed.stored).toBe(0);
      expect(observed.events).toEqual([event("rejected", "payload_too_large")]);
    });

    it("answers 413 one byte over the configured limit and accepts a body right at it", async () => {
      const exact = createEvent("limit/exact");
      ((exact.detail as Json).requestParameters as Json).description = "";
      const fill = BODY_LIMIT_BYTES - Buffer.byteLength(JSON.stringify(exact));
      expect(fill).toBeGreaterThan(0);
      ((exact.detail as Json).requestParameters as Json).description = "x".repeat(fill);
      expect(Buffer.byteLength(JSON.stringify(exact))).toBe(BODY_LIMIT_BYTES);
      const over = structuredClone(exact);
      over.id = randomUUID();
      ((over.detail as Json).requestParameters as Json).description = "x".repeat(fill + 1);

      const observed = await observe(async () => [await post({ body: exact }), await post({ body: over, chunked: true })]);
      expect(observed.result[0]?.status).toBe(202);
      expectError(observed.result[1] as Delivery, 413, "payload_too_large");
      expect(observed.stored).toBe(1);
    });

    it("answers 415 to text/plain, even when the body is a valid event", async () => {
      const observed = await observe(() => post({ body: createEvent("media/type"), headers: { ...withKey(), "content-type": "text/plain" } }));
      expectError(observed.result, 415, "unsupported_media_type");
      expect(observed.stored).toBe(0);
      expect(observed.events).toEqual([event("rejected", "unsupported_media_type")]);
      expect(observed.requests).toEqual([request("eventbridge", 415)]);
    });

    it("answers 400 to a body that is not JSON, or not a JSON object", async () => {
      const observed = await observe(async () => [
        await post({ body: '{"version":"0","id":' }),
        await post({ body: "[]" }),
      ]);
      const [truncated, array] = observed.result as [Delivery, Delivery];
      expectError(truncated, 400, "malformed_json");
      expectError(array, 400, "malformed_body");
      expect((array.body.error as Json).issues).toEqual([expect.stringContaining("(root)")]);
      expect(observed.stored).toBe(0);
      expect(observed.events).toEqual([event("rejected", "malformed_body"), event("rejected", "malformed_json")]);
      expect(observed.requests).toEqual([request("eventbridge", 400, 2)]);
    });

    it("answers 405 with Allow: POST to a GET on the webhook", async () => {
      const observed = await observe(() => deliver(ingest.url, { method: "GET", headers: withKey() }));
      expectError(observed.result, 405, "method_not_allowed");
      expect(observed.result.headers.get("allow")).toBe("POST");
      expect(observed.stored).toBe(0);
      expect(observed.events).toEqual([]);
      expect(observed.requests).toEqual([request("eventbridge", 405)]);
    });

    it("answers 404 to an unknown path, even with a valid key and event", async () => {
      const observed = await observe(() => post({ path: "/webhooks/eventbridge/extra", body: createEvent("unknown/path") }));
      expectError(observed.result, 404, "not_found");
      expect(observed.stored).toBe(0);
      expect(observed.events).toEqual([]);
      expect(observed.requests).toEqual([request("other", 404)]);
    });

    it("answers 422 to an event from another AWS service (aws.s3), naming the field", async () => {
      const s3 = createEvent("s3/object");
      s3.source = "aws.s3";
      Object.assign(s3.detail as Json, { eventSource: "s3.amazonaws.com", eventName: "PutObject" });
      const observed = await observe(() => post({ body: s3 }));
      expectError(observed.result, 422, "unsupported_source");
      expect((observed.result.body.error as Json).issues).toEqual([expect.stringMatching(/^source: /)]);
      expect(observed.stored).toBe(0);
      expect(observed.events).toEqual([event("rejected", "unsupported_source")]);
      expect(observed.requests).toEqual([request("eventbridge", 422)]);
    });

    it("answers 422 out_of_scope to a secret no rule covers, and to EventBridge's own connection secret", async () => {
      const staging = cloudTrailEvent(
        "aws-cloudtrail-createsecret.json",
        { name: "staging/db", arn: `arn:aws:secretsmanager:${AWS_REGION}:${AWS_ACCOUNT}:secret:staging/db-AbCdEf`, account: AWS_ACCOUNT, region: AWS_REGION },
        { versionId: randomUUID() },
      );
      const otherAccount = cloudTrailEvent("aws-cloudtrail-createsecret.json", {
        name: "prod/other-account",
        arn: `arn:aws:secretsmanager:${AWS_REGION}:210987654321:secret:prod/other-account-AbCdEf`,
        account: "210987654321",
        region: AWS_REGION,
      });
      const connection = cloudTrailEvent("aws-cloudtrail-createsecret.json", {
        name: "events!connection/credmesh/0a1b2c3d",
        arn: `arn:aws:secretsmanager:${AWS_REGION}:${AWS_ACCOUNT}:secret:events!connection/credmesh/0a1b2c3d-AbCdEf`,
        account: AWS_ACCOUNT,
        region: AWS_REGION,
      });
      const observed = await observe(async () => [
        await post({ body: staging }),
        await post({ body: otherAccount }),
        await post({ body: connection }),
      ]);
      for (const response of observed.result) expectError(response, 422, "out_of_scope");
      expect(observed.stored).toBe(0);
      expect(observed.events).toEqual([event("out_of_scope", "excluded_name"), event("out_of_scope", "no_matching_rule", 2)]);
    });
  });

  describe("deliberately ignored events", () => {
    it("answers 200 ignored (so EventBridge does not retry) to a failed call and to TagResource, and stores nothing", async () => {
      const failed = createEvent("failed/call");
      Object.assign(failed.detail as Json, {
        errorCode: "ResourceExistsException",
        errorMessage: "The operation failed because the secret already exists.",
        responseElements: null,
      });
      const tagged = cloudTrailEvent("aws-cloudtrail-tagresource.json", inScopeSecret("tagged"));
      const observed = await observe(async () => [await post({ body: failed }), await post({ body: tagged })]);
      expect(observed.result.map((r) => ({ status: r.status, body: r.body }))).toEqual([
        { status: 200, body: { status: "ignored", reason: "failed_call" } },
        { status: 200, body: { status: "ignored", reason: "metadata_only" } },
      ]);
      expect(observed.stored).toBe(0);
      expect(observed.events).toEqual([event("ignored", "failed_call"), event("ignored", "metadata_only")]);
      expect(observed.requests).toEqual([request("eventbridge", 200, 2)]);
    });
  });

  describe("publishing", () => {
    it("publishes one CloudEvent per delivery on its partition, with the EventBridge id as Nats-Msg-Id", async () => {
      const secret = inScopeSecret("payments/db-password");
      const versionId = randomUUID();
      const create = cloudTrailEvent("aws-cloudtrail-createsecret.json", secret, { versionId });
      const observed = await observe(() => post({ body: create }));
      expect(observed.result).toMatchObject({ status: 202, body: { status: "accepted", id: create.id, duplicate: false } });
      expect(observed.stored).toBe(1);
      expect(observed.events).toEqual([event("published", "upsert")]);
      expect(observed.requests).toEqual([request("eventbridge", 202)]);

      const stored = (await storedMutations(bus)).at(-1);
      if (!stored) throw new Error("no message in the mutations stream");
      expect(stored.header.get("Nats-Msg-Id")).toBe(create.id);
      const mutation = decodeMutationEvent(stored.data);
      expect(mutation).toMatchObject({
        specversion: "1.0",
        type: MUTATION_EVENT_TYPE,
        id: create.id,
        data: {
          kind: "upsert",
          rule: RULE_ID,
          destination: { cloud: "azure" },
          origin: { cloud: "aws", account: AWS_ACCOUNT, region: AWS_REGION, secretId: secret.arn, secretName: secret.name, versionId },
          trigger: { source: "aws.eventbridge", eventId: create.id, eventName: "CreateSecret" },
        },
      });
      expect(stored.subject).toMatch(/^credmesh\.mutation\.azure\.p\d{2}$/);
      expect(stored.subject).toBe(mutationSubject("azure", partitionOfEvent(mutation, DEFAULT_PARTITIONS)));
    });

    it("answers a redelivery of the same event 202 duplicate:true without storing it twice", async () => {
      const put = cloudTrailEvent("aws-cloudtrail-putsecretvalue.json", inScopeSecret("payments/api-key"), { versionId: randomUUID() });
      const first = await post({ body: put });
      expect(first).toMatchObject({ status: 202, body: { status: "accepted", id: put.id, duplicate: false } });
      // EventBridge redelivers (at least once), possibly through the other key after a rotation.
      const observed = await observe(async () => [await post({ body: put }), await post({ body: put, headers: withKey(1) })]);
      for (const response of observed.result) {
        expect(response).toMatchObject({ status: 202, body: { status: "accepted", id: put.id, duplicate: true } });
      }
      expect(observed.stored).toBe(0);
      expect(observed.events).toEqual([event("duplicate", "upsert", 2)]);
      expect((await storedMutations(bus)).filter((message) => message.header.get("Nats-Msg-Id") === put.id)).toHaveLength(1);
    });
  });

  describe("credentials stay secret", () => {
    it("never writes a configured or presented credential into a log line or a metric", async () => {
      // Guard against a vacuous scan: the log really covers the deliveries above.
      expect(presented.length).toBeGreaterThan(3);
      expect(ingest.process.lines.some((line) => line.includes('"mutation published"'))).toBe(true);
      const metrics = await metricsText(ingest.url);
      const haystacks = [...ingest.process.lines, metrics];
      const basicPair = `${credentials.basicUser}:${credentials.basicPassword}`;
      const needles = [
        ...credentials.apiKeys,
        credentials.basicPassword,
        basicPair,
        Buffer.from(basicPair).toString("base64"),
        ...presented,
        ...presented.map((value) => Buffer.from(`${credentials.basicUser}:${value}`).toString("base64")),
      ];
      for (const needle of needles) {
        expect(haystacks.filter((text) => text.includes(needle))).toEqual([]);
      }
    });
  });
});
