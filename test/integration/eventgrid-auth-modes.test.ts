import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { STREAMS } from "@credmesh/bus-names";
import { startNats, type NatsPart } from "../support/parts.ts";
import { freePort } from "../support/ports.ts";
import { readFixture } from "../support/fixtures.ts";
import { deliverEventGrid, gridEvents, storedById, streamCount, writeEventGridRules, type GridEvent } from "./support/eventgrid-delivery.ts";
import { startTestIssuer, type TestIssuer } from "./support/eventgrid-issuer.ts";
import { credentialEnv, newCredentials, startIngest, type Ingest } from "./support/ingest.ts";

/**
 * The other ways to configure Event Grid authentication, each on its own ingest process against
 * one nats-server: a shared key (a static, secret delivery header), Entra tokens with OpenID
 * discovery of the issuer's keys, and an issuer whose keys cannot be loaded (Event Grid must be
 * told to retry, not to drop the delivery).
 * @see ../../../shared/FORMATS.md section D
 */

describe("ingest: Event Grid authentication modes", () => {
  let nats: NatsPart;
  let issuer: TestIssuer;
  let bus: NatsConnection;
  let dir: string;
  let sharedKey: Ingest;
  let discovery: Ingest;
  let unreachable: Ingest;
  /** An issuer on a port nobody listens on: its keys cannot be loaded. */
  let deadIssuer: string;
  const keys = [randomBytes(32).toString("base64url"), randomBytes(32).toString("base64url")] as const;

  beforeAll(async () => {
    [nats, issuer, dir] = await Promise.all([startNats(), startTestIssuer(), mkdtemp(join(tmpdir(), "credmesh-eventgrid-auth-"))]);
    const keysFile = join(dir, "eventgrid-keys");
    await writeFile(keysFile, `${keys[0]}\n${keys[1]}\n`, { mode: 0o600 });
    deadIssuer = `http://127.0.0.1:${await freePort()}/${issuer.tenantId}/v2.0`;
    const common = { ...nats.env({ kind: "ingest" }), CREDMESH_RULES_FILE: await writeEventGridRules(dir), ...credentialEnv(newCredentials()) };
    [sharedKey, discovery, unreachable] = await Promise.all([
      startIngest({ ...common, CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS_FILE: keysFile }),
      startIngest({
        ...common,
        CREDMESH_EVENTGRID_AUTH: "entra",
        CREDMESH_EVENTGRID_ISSUERS: issuer.discoverableIssuer,
        CREDMESH_EVENTGRID_AUDIENCES: issuer.audiences.clientId,
      }),
      startIngest({
        ...common,
        CREDMESH_EVENTGRID_AUTH: "entra",
        CREDMESH_EVENTGRID_ISSUERS: deadIssuer,
        CREDMESH_EVENTGRID_AUDIENCES: issuer.audiences.clientId,
      }),
    ]);
    bus = await nats.connect(undefined, "eventgrid-auth-modes-test");
  });

  afterEach((context) => {
    if (context.task.result?.state !== "fail") return;
    for (const [name, ingest] of Object.entries({ sharedKey, discovery, unreachable })) console.error(`--- ingest (${name}) ---\n${ingest?.process.tail(15)}`);
  });

  afterAll(async () => {
    await bus?.close();
    await Promise.all([sharedKey?.stop(), discovery?.stop(), unreachable?.stop()]);
    await nats?.stop();
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const stored = async (): Promise<number> => (await streamCount(bus, STREAMS.mutations.name)) + (await streamCount(bus, STREAMS.lifecycle.name));
  const newVersion = (): GridEvent[] => gridEvents("azure-eventgrid-secretnewversioncreated.json");

  describe("shared key", () => {
    it("accepts either configured key (rotation) as Authorization: Bearer, the validation handshake included", async () => {
      const [first, second] = [newVersion(), newVersion()];
      const responses = [
        await deliverEventGrid(sharedKey.url, { body: first, token: keys[0] }),
        await deliverEventGrid(sharedKey.url, { body: second, token: keys[1] }),
        await deliverEventGrid(sharedKey.url, {
          body: readFixture("azure-eventgrid-subscriptionvalidation.json"),
          token: keys[1],
          headers: { "aeg-event-type": "SubscriptionValidation" },
        }),
      ];
      expect(responses.map((response) => response.status)).toEqual([200, 200, 200]);
      expect(responses[2]?.body).toStrictEqual(readFixture("azure-eventgrid-subscriptionvalidation-response.json"));
      for (const sent of [...first, ...second]) expect(await storedById(bus, STREAMS.mutations.name, sent.id)).toHaveLength(1);
    });

    it("refuses a missing, wrong or partial key with 401 and stores nothing", async () => {
      const before = await stored();
      const attempts = [undefined, randomBytes(32).toString("base64url"), keys[0].slice(0, -1), `${keys[0]},${keys[1]}`];
      for (const attempt of attempts) {
        const response = await deliverEventGrid(sharedKey.url, { body: newVersion(), ...(attempt === undefined ? {} : { token: attempt }) });
        expect(response.status).toBe(401);
        expect(response.body).toMatchObject({ error: { code: "unauthorized" } });
      }
      // The entra token of a valid Event Grid delivery is not a shared key either.
      expect((await deliverEventGrid(sharedKey.url, { body: newVersion(), token: await issuer.mint() })).status).toBe(401);
      expect(await stored()).toBe(before);
    });

    it("never logs a configured key", () => {
      expect(sharedKey.process.lines.some((line) => line.includes("not authenticated"))).toBe(true);
      for (const key of keys) expect(sharedKey.process.lines.filter((line) => line.includes(key))).toEqual([]);
    });
  });

  describe("Entra with OpenID discovery", () => {
    it("finds the issuer's keys through its OpenID configuration, once, and accepts its tokens", async () => {
      const token = await issuer.mint({ iss: issuer.discoverableIssuer, aud: issuer.audiences.clientId }, { version: "v2" });
      const batch = gridEvents("azure-eventgrid-batch-mixed.json");
      const responses = [await deliverEventGrid(discovery.url, { body: batch, token }), await deliverEventGrid(discovery.url, { body: newVersion(), token })];
      expect(responses.map((response) => response.status)).toEqual([200, 200]);
      expect(await storedById(bus, STREAMS.lifecycle.name, (batch[5] as GridEvent).id)).toHaveLength(1);
      const discoveryPath = `/${issuer.tenantId}/v2.0/.well-known/openid-configuration`;
      expect(issuer.requests.filter((path) => path === discoveryPath)).toHaveLength(1);
    });

    it("refuses a token of an issuer it was not configured with, even one whose keys it knows", async () => {
      const before = await stored();
      const token = await issuer.mint({ aud: issuer.audiences.clientId }, { version: "v2" });
      expect((await deliverEventGrid(discovery.url, { body: newVersion(), token })).status).toBe(401);
      expect(await stored()).toBe(before);
    });
  });

  describe("issuer keys unavailable", () => {
    it("answers 503 with Retry-After (Event Grid retries) instead of 401 (Event Grid drops), and stores nothing", async () => {
      const before = await stored();
      const token = await issuer.mint({ iss: deadIssuer, aud: issuer.audiences.clientId }, { version: "v2" });
      const response = await deliverEventGrid(unreachable.url, { body: newVersion(), token });
      expect(response.status).toBe(503);
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(response.body).toMatchObject({ error: { code: "authentication_unavailable" } });
      expect(await stored()).toBe(before);
      expect(unreachable.process.lines.some((line) => line.includes("signing keys could not be loaded yet"))).toBe(true);
      // An unsigned token is still refused outright: keys are looked up only for allowed algorithms and issuers.
      const unsigned = await deliverEventGrid(unreachable.url, { body: newVersion(), token: issuer.unsigned({ iss: deadIssuer }) });
      expect(unsigned.status).toBe(401);
    });
  });
});
