import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import { createLogger } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import { resolveReplicatorConfig } from "./config.ts";
import type { ClockSkewEventData, IdentityEvent } from "@credmesh/events";
import { IdentityEventSink } from "./identity-events.ts";
import { buildCredentials } from "./wiring.ts";

type ClockSkewEvent = IdentityEvent & { data: ClockSkewEventData };

const NOW = Date.parse("2026-01-01T12:00:00Z");

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    service: "replicator-test",
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
        done();
      },
    }),
  });
  return { logger, lines };
}

function fakePublisher() {
  const published: { stream: string; subject: string; record: ClockSkewEvent; msgId: string | undefined }[] = [];
  const publishRecord = vi.fn(async (stream: string, subject: string, record: unknown, msgId?: string) => {
    published.push({ stream, subject, record: record as ClockSkewEvent, msgId });
    return { stream, subject, seq: published.length, duplicate: false };
  });
  return { publisher: { publishRecord }, published };
}

const observation = (source: string, at = NOW) => ({
  source,
  claim: "iat" as const,
  claimedAt: new Date(at + 600_000),
  observedAt: new Date(at),
  offsetSeconds: 600,
  toleranceSeconds: 300,
});

describe("IdentityEventSink", () => {
  it("publishes a clock skew refusal as a CloudEvent on credmesh.identity.<cell>.clock_skew in the identity stream", async () => {
    const { logger } = capture();
    const { publisher, published } = fakePublisher();
    const sink = new IdentityEventSink("e2e-azure-1", logger, { now: () => NOW });
    sink.attach(publisher);
    sink.clockSkew(observation("aws/azure-managed-identity"));
    await vi.waitFor(() => expect(published).toHaveLength(1));
    const [event] = published;
    expect(event).toMatchObject({
      stream: "CREDMESH_IDENTITY",
      subject: "credmesh.identity.e2e-azure-1.clock_skew",
      msgId: `e2e-azure-1:clock_skew:aws/azure-managed-identity:${Math.floor(NOW / 60_000)}`,
    });
    expect(event?.record).toMatchObject({
      specversion: "1.0",
      type: "io.credmesh.identity.clock_skew.v1",
      source: "credmesh/replicator/e2e-azure-1",
      subject: "e2e-azure-1/aws/azure-managed-identity",
      time: "2026-01-01T12:00:00.000Z",
      data: {
        cell: "e2e-azure-1",
        kind: "clock_skew",
        credentialSource: "aws/azure-managed-identity",
        claim: "iat",
        claimedAt: "2026-01-01T12:10:00.000Z",
        observedAt: "2026-01-01T12:00:00.000Z",
        offsetSeconds: 600,
        toleranceSeconds: 300,
        action: "refused",
      },
    });
  });

  it("sends at most one event per source and minute, however often the source is refused", async () => {
    let now = NOW;
    const { publisher, published } = fakePublisher();
    const sink = new IdentityEventSink("cell-1", capture().logger, { now: () => now });
    sink.attach(publisher);
    for (let i = 0; i < 50; i += 1) sink.clockSkew(observation("aws/web-identity-token-file", now));
    sink.clockSkew(observation("azure/client-assertion", now));
    now += 60_000;
    sink.clockSkew(observation("aws/web-identity-token-file", now));
    await vi.waitFor(() => expect(published).toHaveLength(3));
    expect(published.map((p) => p.record.data.credentialSource)).toEqual(["aws/web-identity-token-file", "azure/client-assertion", "aws/web-identity-token-file"]);
  });

  it("only logs until the bus is attached, and never throws when the publish fails", async () => {
    const { logger, lines } = capture();
    const sink = new IdentityEventSink("cell-1", logger, { now: () => NOW, minIntervalMs: 0 });
    sink.clockSkew(observation("aws/web-identity-token-file"));
    expect(lines.map((line) => line["msg"])).toEqual(["identity event not published: the bus is not attached yet"]);
    sink.attach({ publishRecord: vi.fn(async () => Promise.reject(new CredmeshError("bus_unavailable", "publish to x was not acknowledged"))) });
    expect(() => sink.clockSkew(observation("aws/web-identity-token-file"))).not.toThrow();
    await vi.waitFor(() => expect(lines.map((line) => line["msg"])).toContain("identity event not published"));
  });
});

describe("IdentityEventSink.accessDenied", () => {
  it("publishes each denial for the watcher to count, capped per cloud and interval", async () => {
    const { publisher, published } = fakePublisher();
    const sink = new IdentityEventSink("cell-1", capture().logger, { now: () => NOW, maxAccessDeniedPerInterval: 3 });
    sink.attach(publisher);
    for (let i = 0; i < 5; i += 1) sink.accessDenied({ cloud: "aws", operation: "GetSecretValue", code: "AccessDeniedException" });
    sink.accessDenied({ cloud: "azure", operation: "SetSecret", code: "Forbidden" });
    await vi.waitFor(() => expect(published).toHaveLength(4));
    expect(published.map((p) => p.subject)).toEqual([...Array(3).fill("credmesh.identity.cell-1.access_denied"), "credmesh.identity.cell-1.access_denied"]);
    expect(new Set(published.map((p) => p.msgId)).size).toBe(4);
    expect(published[3]?.record).toMatchObject({ type: "io.credmesh.identity.access_denied.v1", data: { cloud: "azure", operation: "SetSecret", code: "Forbidden" } });
  });
});

describe("buildCredentials", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "credmesh-wiring-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A web identity token file whose issued-at is `offsetSeconds` away from NOW. */
  async function tokenFile(offsetSeconds: number): Promise<string> {
    const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
    const iat = NOW / 1000 + offsetSeconds;
    const path = join(dir, "token");
    await writeFile(path, `${part({ alg: "RS256" })}.${part({ iss: "https://oidc.example", sub: "system:serviceaccount:credmesh:replicator-aws", aud: "sts.amazonaws.com", iat, exp: iat + 3600 })}.sig`);
    return path;
  }

  async function config(env: Record<string, string>) {
    const rules = join(dir, "rules.yaml");
    await writeFile(
      rules,
      [
        "rules:",
        "  - id: aws-to-azure",
        "    source: { cloud: aws, accounts: [\"123456789012\"], regions: [us-east-1], namePrefixes: [prod/] }",
        "    destination: { cloud: azure, vaultUrl: \"https://credmesh.vault.azure.net\" }",
        "",
      ].join("\n"),
    );
    return resolveReplicatorConfig({
      CREDMESH_RULES_FILE: rules,
      CREDMESH_CELL: "cell-skewed",
      CREDMESH_DESTINATION: "azure",
      CREDMESH_CONTENT_HASH_KEY: "k".repeat(32),
      CREDMESH_AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/credmesh-replicator",
      // Nothing listens here: a token that reached STS would fail as a network error instead.
      CREDMESH_AWS_ENDPOINT: "http://127.0.0.1:9",
      ...env,
    });
  }

  it("refuses a token from the future before STS is called, counts it, and reports it to the identity-watcher", async () => {
    const cfg = await config({ CREDMESH_AWS_IDENTITY: "web-identity-token-file", CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE: await tokenFile(412) });
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const { publisher, published } = fakePublisher();
    const credentials = buildCredentials(cfg, metrics, capture().logger, { now: () => NOW });
    credentials.identityEvents.attach(publisher);

    const error = await credentials.aws().catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: "unauthenticated", code: "ClockSkew", retryable: false });
    expect((error as Error).message).toMatch(/^aws credential source web-identity-token-file failed: the AWS web identity token file .* is 412 s in the future/);
    expect((await metrics.identityClockSkewRefusals.get()).values).toEqual([{ labels: { source: "aws/web-identity-token-file" }, value: 1 }]);
    expect((await metrics.identityClockSkew.get()).values).toEqual([{ labels: { source: "aws/web-identity-token-file" }, value: 412 }]);
    expect((await metrics.credentialRefreshes.get()).values).toEqual([
      { labels: { source: "aws/web-identity-token-file", outcome: "unauthenticated" }, value: 1 },
    ]);
    await vi.waitFor(() => expect(published).toHaveLength(1));
    expect(published[0]?.subject).toBe("credmesh.identity.cell-skewed.clock_skew");
  });

  it("lets a token within tolerance through to STS", async () => {
    const cfg = await config({
      CREDMESH_AWS_IDENTITY: "web-identity-token-file",
      CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE: await tokenFile(120),
      CREDMESH_IDENTITY_CLOCK_SKEW_TOLERANCE_SECONDS: "180",
    });
    const credentials = buildCredentials(cfg, createMetrics(new Registry(), { defaultMetrics: false }), capture().logger, { now: () => NOW });
    // It got as far as the (absent) STS endpoint.
    await expect(credentials.aws()).rejects.toMatchObject({ reason: "network" });
  });

  it("skips a source this deployment does not configure, and explains each source when none works", async () => {
    const cfg = await config({ CREDMESH_AWS_IDENTITY: "web-identity-token-file,azure-managed-identity", CREDMESH_AZURE_IDENTITY_ENDPOINT: "http://127.0.0.1:9/token" });
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const { logger, lines } = capture();
    const credentials = buildCredentials(cfg, metrics, logger, { now: () => NOW });
    const error = await credentials.aws().catch((e: unknown) => e);
    // Neither works here (no IMDS either), and the error says why for each.
    expect(error).toMatchObject({ reason: "identity_unavailable", code: "NoSourceAvailable" });
    expect((error as Error).message).toContain("web-identity-token-file: source web-identity-token-file is not configured (CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE not set)");
    expect((error as Error).message).toContain("azure-managed-identity: managed identity endpoint unreachable");
    expect(lines.find((line) => line["msg"] === "identity chains configured")).toMatchObject({
      aws: ["web-identity-token-file (not configured: CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE)", "azure-managed-identity"],
      azure: ["managed-identity"],
      clockSkewToleranceSeconds: 300,
    });
  });
});
