import { randomUUID } from "node:crypto";
import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { PublishResult } from "@credmesh/bus";
import type { MutationEvent } from "@credmesh/events";
import { Sensitive, createLogger } from "@credmesh/logging";
import { createMetrics } from "@credmesh/metrics";
import { opsRoutes } from "@credmesh/runtime";
import { EventBridgeAuthenticator } from "../auth/eventbridge-auth.ts";
import { TEST_RULES, loadFixture } from "../eventbridge/test-fixtures.ts";
import { createIngestServer } from "./server.ts";

/**
 * The EventBridge route over a loopback socket with a fake bus, at the operator's default log level
 * (info): what is logged and counted per delivery. The real bus and
 * process are in test/integration/ingest-webhook.test.ts.
 */

/** Stores what is published and acknowledges it. */
class FakeBus {
  readonly published: string[] = [];

  async publishMutation(event: MutationEvent): Promise<PublishResult> {
    this.published.push(event.id);
    await new Promise((resolve) => setImmediate(resolve));
    return { subject: "credmesh.mutation.azure.p00", stream: "S", seq: this.published.length, duplicate: false };
  }
}

const API_KEY = "k".repeat(32);

describe("POST /webhooks/eventbridge at log level info", () => {
  const bus = new FakeBus();
  const lines: string[] = [];
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const logger = createLogger({ service: "ingest", level: "info", destination: { write: (line: string) => void lines.push(line) } });
    server = createIngestServer({
      auth: new EventBridgeAuthenticator({ apiKeyHeader: "x-api-key", apiKeys: [new Sensitive(API_KEY)], basicCredentials: [] }),
      publisher: bus as never,
      rules: TEST_RULES,
      bodyLimitBytes: 65_536,
      metrics,
      logger,
      ops: opsRoutes(metrics.registry, {}),
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/eventbridge`;
  });

  beforeEach(() => {
    lines.length = 0;
    bus.published.length = 0;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = async (body: string) => {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", "x-api-key": API_KEY }, body });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const delivery = (): string => JSON.stringify({ ...loadFixture("aws-cloudtrail-putsecretvalue.json"), id: randomUUID() });
  const counted = async (outcome: string): Promise<number> =>
    (await metrics.ingestEvents.get()).values.filter((value) => value.labels.outcome === outcome).reduce((sum, value) => sum + value.value, 0);

  it("publishes and counts every delivery without a log line per delivery", async () => {
    const before = await counted("published");
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(delivery())));
    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202, 202, 202]);
    expect(bus.published).toHaveLength(5);
    expect((await counted("published")) - before).toBe(5);
    expect(lines).toEqual([]);
  });

  it("still logs a refused delivery, and counts it", async () => {
    const before = await counted("rejected");
    expect((await post('{"detail-type": 1}')).status).toBe(400);
    expect((await counted("rejected")) - before).toBe(1);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({ level: "warn", msg: "event rejected", reason: "invalid_envelope" });
  });
});
