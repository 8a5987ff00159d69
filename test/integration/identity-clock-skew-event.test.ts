/**
 * Clock skew (issue 5, item 5) as the identity-watcher sees it: a replicator cell whose web
 * identity token claims to be issued ten minutes in the future refuses it before calling STS, and
 * publishes `credmesh.identity.<cell>.clock_skew` into the CREDMESH_IDENTITY stream of a real
 * nats-server — once per minute however many mutations try. The local clock is injected.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { BusPublisher, ensureStreams } from "@credmesh/bus";
import { createLogger } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import { STREAMS } from "@credmesh/bus-names";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveReplicatorConfig } from "../../services/replicator/src/config.ts";
import { decodeIdentityEvent } from "@credmesh/events";
import { buildCredentials } from "../../services/replicator/src/wiring.ts";
import { startMoto, startNats, type MotoPart, type NatsPart } from "../support/parts.ts";
import { startRecordingProxy, type RecordingProxy } from "../support/recording-proxy.ts";
import { startServiceAccountIssuer, type ServiceAccountIssuer } from "../support/service-account-issuer.ts";

const CELL = "skewed-cell-1";

describe("a clock skew refusal reaches the identity stream", () => {
  let nats: NatsPart;
  let moto: MotoPart;
  let proxy: RecordingProxy;
  let issuer: ServiceAccountIssuer;
  let nc: NatsConnection;
  let dir: string;

  beforeAll(async () => {
    [nats, moto, issuer] = await Promise.all([startNats(), startMoto(), startServiceAccountIssuer()]);
    proxy = await startRecordingProxy(moto.endpoint);
    nc = await nats.connect();
    await ensureStreams(nc);
    dir = await mkdtemp(join(tmpdir(), "credmesh-skew-"));
  }, 60_000);
  afterAll(async () => {
    await nc?.close().catch(() => undefined);
    await Promise.allSettled([proxy?.stop(), moto?.stop(), nats?.stop(), issuer?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("refuses the token before STS, counts it, and publishes one event per minute", async () => {
    const tokenFile = join(dir, "token");
    // Issued "now" on the issuer's clock, which is 10 minutes ahead of this host's.
    await issuer.writeTokenFile(tokenFile, { audience: "sts.amazonaws.com" });
    let now = Date.now() - 600_000;
    const rules = join(dir, "rules.yaml");
    await writeFile(
      rules,
      'rules:\n  - id: r\n    source: { cloud: aws, accounts: ["123456789012"], regions: [us-east-1], namePrefixes: [prod/] }\n    destination: { cloud: azure, vaultUrl: "https://credmesh.vault.azure.net" }\n',
    );
    const config = resolveReplicatorConfig({
      CREDMESH_RULES_FILE: rules,
      CREDMESH_CELL: CELL,
      CREDMESH_DESTINATION: "azure",
      CREDMESH_CONTENT_HASH_KEY: "k".repeat(32),
      CREDMESH_AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/credmesh-replicator",
      CREDMESH_AWS_ENDPOINT: proxy.endpoint,
      CREDMESH_AWS_IDENTITY: "web-identity-token-file",
      CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    });
    const lines: string[] = [];
    const logger = createLogger({
      service: "replicator-azure",
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString("utf8"));
          done();
        },
      }),
    });
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const credentials = buildCredentials(config, metrics, logger, { now: () => now });
    credentials.identityEvents.attach(new BusPublisher(nc, { timeoutMs: 5_000 }));

    // Twenty mutations in the same minute each need credentials; each is refused.
    for (let i = 0; i < 20; i += 1) {
      await expect(credentials.aws()).rejects.toMatchObject({ reason: "unauthenticated", code: "ClockSkew" });
    }
    now += 61_000;
    await expect(credentials.aws()).rejects.toMatchObject({ code: "ClockSkew" });
    expect(proxy.requests).toEqual([]);
    expect((await metrics.identityClockSkewRefusals.get()).values).toEqual([{ labels: { source: "aws/web-identity-token-file" }, value: 21 }]);

    const jsm = await jetstreamManager(nc);
    await expect.poll(async () => (await jsm.streams.info(STREAMS.identity.name)).state.messages, { timeout: 10_000 }).toBe(2);
    const stored = await jsm.streams.getMessage(STREAMS.identity.name, { seq: 1 });
    expect(stored?.subject).toBe(`credmesh.identity.${CELL}.clock_skew`);
    const event = stored ? decodeIdentityEvent(stored.data) : undefined;
    expect(event).toMatchObject({
      specversion: "1.0",
      type: "io.credmesh.identity.clock_skew.v1",
      data: { cell: CELL, kind: "clock_skew", credentialSource: "aws/web-identity-token-file", action: "refused", toleranceSeconds: 300 },
    });
    const offset = event?.data.kind === "clock_skew" ? event.data.offsetSeconds : Number.NaN;
    expect(Math.abs(offset - 600)).toBeLessThanOrEqual(2);
    expect(lines.join("")).toContain("identity event published");
    expect(JSON.stringify(event)).not.toMatch(/eyJ/);
  });
});
