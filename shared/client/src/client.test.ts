import { inspect } from "node:util";
import { parseRules } from "@credmesh/config";
import { CredmeshError } from "@credmesh/errors";
import { Registry } from "@credmesh/metrics";
import { provenanceTags, toKeyVaultName } from "@credmesh/replicas";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FailoverClient } from "./client.ts";
import type { ClientEvent } from "./events.ts";
import { FakeProvider } from "./fake-provider.test-support.ts";
import type { FailoverClientOptions } from "./options.ts";

const NAME = "prod/payments/db-password";
const REPLICA = toKeyVaultName("{name}", { name: NAME });
const VALUE = "s3cr3t-Value-9f8e7d";
const rules = parseRules(`
rules:
  - id: payments-to-azure
    source: { cloud: aws, accounts: ["123456789012"], regions: ["us-east-1"], namePrefixes: ["prod/"] }
    destination: { cloud: azure, vaultUrl: "https://payments-kv.vault.azure.net" }
`);
const origin = { cloud: "aws", account: "123456789012", region: "us-east-1", name: NAME } as const;
const replicaTags = (version: string) =>
  provenanceTags({ origin, version, versionCreatedAt: new Date("2026-12-01T10:00:00Z"), contentHash: "h", rule: "payments-to-azure", replicatedAt: new Date("2026-12-01T10:00:02Z") });

interface Setup {
  client: FailoverClient;
  aws: FakeProvider;
  azure: FakeProvider;
  events: ClientEvent[];
  clock: { now: number };
  registry: Registry;
}

function setup(options: Partial<FailoverClientOptions> = {}): Setup {
  const aws = new FakeProvider("aws");
  const azure = new FakeProvider("azure");
  aws.put(NAME, "v1", VALUE);
  azure.put(REPLICA, "kv1", VALUE, replicaTags("v1"));
  const events: ClientEvent[] = [];
  const clock = { now: 1_000_000 };
  const registry = new Registry();
  const client = new FailoverClient({
    primary: { cloud: "aws", account: "123456789012", region: "us-east-1" },
    fallback: { cloud: "azure", vaultUrl: "https://payments-kv.vault.azure.net" },
    rules,
    providers: { primary: aws, fallback: azure },
    onEvent: (event) => events.push(event),
    now: () => clock.now,
    metrics: { registry },
    breaker: { failures: 3, halfOpenAfterMs: 1_000 },
    throttle: { attempts: 2, baseMs: 1, maxMs: 5 },
    ...options,
  });
  return { client, aws, azure, events, clock, registry };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("reads through the primary", () => {
  it("reads the primary and says so", async () => {
    const { client, aws, azure } = setup();
    const read = await client.get(NAME);
    expect(read.value.reveal()).toBe(VALUE);
    expect(read).toMatchObject({
      name: NAME,
      versionId: "v1",
      source: "cloud",
      servedBy: { role: "primary", cloud: "aws", name: NAME },
      origin: { cloud: "aws", version: "v1", replica: false },
    });
    expect(read.failover).toBeUndefined();
    expect(aws.calls).toEqual({ get: 1, currentVersion: 0 });
    expect(azure.total).toBe(0);
  });

  it("never shows the value when a read or an event is printed", async () => {
    const { client, aws, events } = setup();
    aws.fail("unavailable");
    const read = await client.get(NAME);
    for (const text of [JSON.stringify(read), inspect(read, { depth: 10 }), String(read.value), JSON.stringify(events)]) {
      expect(text).not.toContain(VALUE);
    }
    expect(JSON.stringify(read)).toContain('"value":"[REDACTED]"');
  });
});

describe("failover only on availability failures", () => {
  it.each([
    ["unavailable", undefined],
    ["network", "ECONNREFUSED"],
    ["timeout", undefined],
  ] as const)("%s at the primary: the replica serves, with its provenance", async (reason, code) => {
    const { client, aws, azure, events } = setup();
    aws.fail(reason, code);
    const read = await client.get(NAME);
    expect(read.value.reveal()).toBe(VALUE);
    expect(read).toMatchObject({
      versionId: "kv1",
      servedBy: { role: "fallback", cloud: "azure", name: REPLICA },
      origin: { cloud: "aws", name: NAME, version: "v1", replica: true, versionCreatedAt: new Date("2026-12-01T10:00:00Z"), replicatedAt: new Date("2026-12-01T10:00:02Z") },
      failover: { reason },
    });
    expect(azure.calls.get).toBe(1);
    expect(events).toContainEqual(expect.objectContaining({ type: "failover", from: "aws", to: "azure", reason }));
  });

  it("retries throttling first, and fails over only once the attempts are spent", async () => {
    const { client, aws, azure } = setup();
    aws.fail("throttled", "ThrottlingException");
    const read = await client.get(NAME);
    expect(aws.calls.get).toBe(2);
    expect(read.failover).toEqual({ reason: "throttled", code: "ThrottlingException" });
    expect(azure.calls.get).toBe(1);
  });

  it("does not fail over when a throttled retry succeeds", async () => {
    const { client, aws, azure } = setup();
    aws.failWith(() => {
      aws.heal();
      return new CredmeshError("throttled", "throttled once", { code: "ThrottlingException", retryAfterMs: 1 });
    });
    const read = await client.get(NAME);
    expect(read.servedBy.role).toBe("primary");
    expect(read.failover).toBeUndefined();
    expect(aws.calls.get).toBe(2);
    expect(azure.total).toBe(0);
  });

  it.each([
    ["access_denied", "AccessDeniedException"],
    ["unauthenticated", "UnrecognizedClientException"],
    ["not_found", "ResourceNotFoundException"],
    ["validation", "InvalidRequestException"],
  ] as const)("%s at the primary fails the read and never asks the replica", async (reason, code) => {
    const { client, aws, azure, events } = setup();
    aws.fail(reason, code);
    await expect(client.get(NAME)).rejects.toMatchObject({ reason, code });
    expect(azure.total).toBe(0);
    expect(events).toContainEqual(expect.objectContaining({ type: "read_failed", reason, fallbackAsked: false }));
  });

  it("refuses a replica whose provenance names another secret, or none", async () => {
    const { client, aws, azure } = setup();
    aws.fail("unavailable");
    azure.put(REPLICA, "kv2", "other", provenanceTags({ origin: { ...origin, name: "prod/other" }, version: "x", contentHash: "h", rule: "r", replicatedAt: new Date() }));
    await expect(client.get(NAME)).rejects.toMatchObject({ reason: "unavailable", cause: { reason: "name_collision" } });
    azure.put(REPLICA, "kv3", "unmanaged", {});
    await expect(client.get(NAME)).rejects.toMatchObject({ cause: { reason: "unmanaged_destination" } });
  });

  it("cannot fail over a secret no rule replicates, and says so once", async () => {
    const { client, aws, azure, events } = setup();
    aws.put("dev/x", "d1", "dev-value");
    aws.fail("unavailable");
    await expect(client.get("dev/x")).rejects.toMatchObject({ reason: "unavailable" });
    await expect(client.get("dev/x")).rejects.toMatchObject({ reason: "unavailable" });
    expect(azure.total).toBe(0);
    expect(events.filter((event) => event.type === "not_replicated")).toHaveLength(1);
  });

  it("fails over a hung primary within the deadline (per-attempt timeout)", async () => {
    const { client, aws } = setup({ attemptTimeoutMs: 50, deadlineMs: 2_000 });
    aws.hang();
    const read = await client.get(NAME);
    expect(read.failover?.reason).toBe("timeout");
  });
});

describe("bulkhead per backend", () => {
  it("fails over the calls that find the primary's bulkhead full", async () => {
    const { client, aws, azure } = setup({ cache: false, bulkhead: { maxConcurrent: 1, maxQueued: 0 }, attemptTimeoutMs: 10_000, deadlineMs: 10_000 });
    aws.put("prod/other", "o1", "other");
    azure.put(toKeyVaultName("{name}", { name: "prod/other" }), "kvo1", "other", provenanceTags({ origin: { ...origin, name: "prod/other" }, version: "o1", contentHash: "h", rule: "r", replicatedAt: new Date() }));
    aws.hang();
    const controller = new AbortController();
    const stuck = client.get(NAME, { signal: controller.signal });
    const second = await client.get("prod/other");
    expect(second).toMatchObject({ servedBy: { role: "fallback" }, failover: { reason: "unavailable", code: "BulkheadFull" } });
    expect(azure.calls.get).toBe(1);
    controller.abort();
    await expect(stuck).rejects.toMatchObject({ reason: "timeout" });
  });
});

describe("circuit breaker per backend", () => {
  it("opens after the configured consecutive failures, then half-opens and moves reads back", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { client, aws, events } = setup({ cache: false });
    aws.fail("unavailable");
    for (let read = 0; read < 3; read++) expect((await client.get(NAME)).servedBy.role).toBe("fallback");
    expect(aws.calls.get).toBe(3);
    expect(client.breakerStates().primary).toBe("open");
    // Open: the primary is not called at all, the replica serves at once.
    const whileOpen = await client.get(NAME);
    expect(whileOpen.failover).toEqual({ reason: "unavailable", code: "CircuitOpen" });
    expect(aws.calls.get).toBe(3);
    aws.heal();
    vi.advanceTimersByTime(1_001);
    const back = await client.get(NAME);
    expect(back.servedBy.role).toBe("primary");
    expect(client.breakerStates().primary).toBe("closed");
    expect(events.filter((event) => event.type === "breaker").map((event) => event.type === "breaker" && event.state)).toEqual(["open", "half-open", "closed"]);
  });

  it("is not opened by refusals: they prove the backend answers", async () => {
    const { client, aws } = setup({ cache: false });
    aws.fail("access_denied");
    for (let read = 0; read < 5; read++) await client.get(NAME).catch(() => undefined);
    expect(client.breakerStates().primary).toBe("closed");
  });
});

describe("cache", () => {
  const cache = { ttlMs: 10_000, refreshAhead: 0.8, maxStalenessMs: 60_000 };

  it("serves a fresh value without a cloud call", async () => {
    const { client, aws, clock } = setup({ cache });
    await client.get(NAME);
    clock.now += 7_999;
    const read = await client.get(NAME);
    expect(read).toMatchObject({ source: "cache", ageMs: 7_999 });
    expect(aws.total).toBe(1);
  });

  it("checks the version in the background past the refresh point and reads no value when unchanged", async () => {
    const { client, aws, clock, events } = setup({ cache });
    await client.get(NAME);
    clock.now += 8_000;
    expect((await client.get(NAME)).source).toBe("cache");
    await vi.waitFor(() => expect(events).toContainEqual(expect.objectContaining({ type: "refresh", outcome: "unchanged" })));
    expect(aws.calls).toEqual({ get: 1, currentVersion: 1 });
    clock.now += 5_000;
    // Confirmed at the refresh: 5 s old, fresh again.
    expect(await client.get(NAME)).toMatchObject({ source: "cache", ageMs: 5_000 });
  });

  it("picks up a rotation at the refresh point, before the TTL", async () => {
    const { client, aws, clock, events } = setup({ cache });
    await client.get(NAME);
    aws.put(NAME, "v2", "rotated-value");
    clock.now += 8_000;
    await client.get(NAME);
    await vi.waitFor(() => expect(events).toContainEqual(expect.objectContaining({ type: "refresh", outcome: "changed", versionId: "v2" })));
    const read = await client.get(NAME);
    expect(read).toMatchObject({ versionId: "v2", source: "cache" });
    expect(read.value.reveal()).toBe("rotated-value");
    expect(aws.calls).toEqual({ get: 2, currentVersion: 1 });
  });

  it("waits for a version check once expired, and refresh() checks at once", async () => {
    const { client, aws, clock } = setup({ cache });
    await client.get(NAME);
    clock.now += 10_000;
    aws.put(NAME, "v2", "rotated-value");
    expect(await client.get(NAME)).toMatchObject({ versionId: "v2", source: "cloud" });
    aws.put(NAME, "v3", "again");
    expect(await client.refresh(NAME)).toMatchObject({ versionId: "v3", source: "cloud" });
  });

  it("serves a stale value while every backend is unavailable, up to the maximum staleness", async () => {
    const { client, aws, azure, clock, events } = setup({ cache });
    await client.get(NAME);
    aws.fail("unavailable");
    azure.fail("network", "ECONNREFUSED");
    clock.now += 10_000 + 59_999;
    const read = await client.get(NAME);
    expect(read).toMatchObject({ source: "stale", versionId: "v1", staleBecause: { reason: "unavailable" } });
    expect(events).toContainEqual(expect.objectContaining({ type: "stale_served", reason: "unavailable" }));
    clock.now += 1;
    await expect(client.get(NAME)).rejects.toMatchObject({ reason: "unavailable" });
  });

  it("drops the cached value when the store refuses (a quarantined cell reads nothing more)", async () => {
    const { client, aws, clock } = setup({ cache });
    await client.get(NAME);
    clock.now += 10_000;
    aws.fail("access_denied", "AccessDeniedException");
    await expect(client.get(NAME)).rejects.toMatchObject({ reason: "access_denied" });
    clock.now -= 9_000;
    await expect(client.get(NAME)).rejects.toMatchObject({ reason: "access_denied" });
  });

  it("moves a value served by the replica back to the primary at the next check", async () => {
    const { client, aws, clock } = setup({ cache });
    aws.fail("unavailable");
    expect((await client.get(NAME)).servedBy.role).toBe("fallback");
    aws.heal();
    clock.now += 10_000;
    expect(await client.get(NAME)).toMatchObject({ servedBy: { role: "primary" }, versionId: "v1" });
  });

  it("holds at most maxEntries secrets, the least recently read leaving first", async () => {
    const { client, aws } = setup({ cache: { ...cache, maxEntries: 2 } });
    for (const name of ["prod/a", "prod/b", "prod/c"]) aws.put(name, `${name}-v`, "x");
    await client.get("prod/a");
    await client.get("prod/b");
    await client.get("prod/c");
    const before = aws.calls.get;
    await client.get("prod/c");
    await client.get("prod/a");
    expect(aws.calls.get).toBe(before + 1);
  });
});

describe("single flight", () => {
  it("makes one cloud call for 100 concurrent reads of a cold name", async () => {
    const { client, aws } = setup();
    const reads = await Promise.all(Array.from({ length: 100 }, () => client.get(NAME)));
    expect(aws.total).toBe(1);
    expect(new Set(reads.map((read) => read.versionId))).toEqual(new Set(["v1"]));
  });

  it("lets a caller stop waiting at its own signal without cancelling the shared call", async () => {
    const { client, aws } = setup({ attemptTimeoutMs: 10_000, deadlineMs: 10_000 });
    aws.hang();
    const controller = new AbortController();
    const waiting = client.get(NAME, { signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ reason: "timeout" });
  });
});

describe("metrics", () => {
  it("count reads by source and failovers by reason, never a name or a value", async () => {
    const { client, aws, registry } = setup();
    await client.get(NAME);
    await client.get(NAME);
    aws.fail("unavailable");
    await client.refresh(NAME);
    const text = await registry.metrics();
    expect(text).toContain('credmesh_client_reads_total{cloud="aws",role="primary",source="cloud",outcome="success"} 1');
    expect(text).toContain('credmesh_client_reads_total{cloud="aws",role="primary",source="cache",outcome="success"} 1');
    expect(text).toContain('credmesh_client_failovers_total{from="aws",to="azure",reason="unavailable"} 1');
    expect(text).not.toContain(NAME);
    expect(text).not.toContain(VALUE);
  });
});
