import { describe, expect, it } from "vitest";
import type { JsMsg } from "@credmesh/bus";
import type { CredmeshError } from "@credmesh/errors";
import { buildIdentityEvent, buildLifecycleEvent, type IdentityEvent } from "@credmesh/events";
import { createLogger } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import type { CertificateTracker } from "./certificates/tracker.ts";
import { lifecycleHandler, observationHandler } from "./handlers.ts";
import type { PolicyEngine } from "./policies.ts";
import { parseCells } from "./cells.ts";
import { watcherDeadLetters } from "./bus/dead-letters.ts";

/**
 * The watcher re-checks what it consumes (pure logic with stand-in messages; the real consumers
 * run in test/e2e): a message whose subject contradicts its body is refused before any policy or
 * state sees it, and dead-lettered; a valid one about something not configured is counted.
 */
const logger = createLogger({ service: "test", level: "silent" });
const message = (subject: string, body: unknown, seq = 5): JsMsg =>
  ({ subject, seq, data: new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body)), info: { deliveryCount: 1, stream: "CREDMESH_IDENTITY" } }) as unknown as JsMsg;

const accessDenied = (cell: string): IdentityEvent =>
  buildIdentityEvent({
    id: `denied-${cell}`,
    producer: "replicator",
    data: { kind: "access_denied", cell, cloud: "aws", operation: "GetSecretValue", code: "AccessDeniedException", observedAt: "2026-02-01T00:00:00.000Z" },
  });

function observations(knownCells: string[]) {
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const seen: IdentityEvent[] = [];
  const policies = { onObservation: async (event: IdentityEvent) => (seen.push(event), "recorded" as const) } as unknown as PolicyEngine;
  return { handler: observationHandler({ policies, knownCells: new Set(knownCells), metrics, logger }), seen, metrics };
}

async function refusal(work: Promise<unknown>): Promise<CredmeshError> {
  return work.then(
    () => {
      throw new Error("expected a refusal");
    },
    (error: unknown) => error as CredmeshError,
  );
}

describe("observationHandler", () => {
  it("hands a consistent observation of a known cell to the policies", async () => {
    const { handler, seen } = observations(["cell-a"]);
    await handler.handle(message("credmesh.identity.cell-a.access_denied", accessDenied("cell-a")));
    expect(seen.map((event) => event.data.cell)).toEqual(["cell-a"]);
  });

  it("refuses an observation about another cell than its subject's (the only cell its publisher may report), before any policy", async () => {
    const { handler, seen, metrics } = observations(["cell-a", "cell-b"]);
    const error = await refusal(handler.handle(message("credmesh.identity.cell-a.access_denied", accessDenied("cell-b"))));
    expect(error).toMatchObject({ reason: "out_of_scope", retryable: false });
    expect(error.message).toContain("about cell cell-b arrived on credmesh.identity.cell-a.access_denied");
    expect(seen).toEqual([]);
    expect(await metrics.registry.metrics()).toContain('credmesh_identity_observations_total{kind="access_denied",outcome="invalid"} 1');
  });

  it("refuses a watcher's own kind of event on an observation subject, and bytes that are no event", async () => {
    const { handler, seen } = observations(["cell-a"]);
    const released = buildIdentityEvent({
      id: "rel-1",
      producer: "identity-watcher",
      data: { kind: "released", cell: "cell-a", reason: "x", by: "y", at: "2026-02-01T00:00:00.000Z", trigger: { type: "operator" }, transitionId: "release-1" },
    });
    expect(await refusal(handler.handle(message("credmesh.identity.cell-a.access_denied", released)))).toMatchObject({ reason: "out_of_scope" });
    expect(await refusal(handler.handle(message("credmesh.identity.cell-a.clock_skew", "{not json")))).toMatchObject({ reason: "invalid_event" });
    expect(seen).toEqual([]);
  });

  it("counts an observation of a cell the cells file does not list as out of scope, and acts on nothing", async () => {
    const { handler, seen, metrics } = observations(["cell-a"]);
    await handler.handle(message("credmesh.identity.cell-z.access_denied", accessDenied("cell-z")));
    expect(seen).toEqual([]);
    expect(await metrics.registry.metrics()).toContain('credmesh_identity_observations_total{kind="access_denied",outcome="out_of_scope"} 1');
  });
});

describe("lifecycleHandler", () => {
  const cells = parseCells("cells:\n  - id: cell-a\n    vaultCertificates: [{ vault: payments-kv, name: cell-a-client }]\n");
  const lifecycle = (name: string) =>
    buildLifecycleEvent({
      kind: "near_expiry",
      objectType: "certificate",
      vaultName: "payments-kv",
      objectName: name,
      trigger: { source: "azure.eventgrid", eventId: `eg-${name}`, eventName: "Microsoft.KeyVault.CertificateNearExpiry", eventTime: "2026-02-01T00:00:00.000Z" },
    });
  const untouched = { get: () => Promise.reject(new Error("the tracker must not be asked")), observe: () => Promise.reject(new Error("the tracker must not be asked")) } as unknown as CertificateTracker;

  it("refuses an event whose subject says another kind or object than its body", async () => {
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const handler = lifecycleHandler({ cells, tracker: untouched, metrics, logger });
    const error = await refusal(handler.handle(message("credmesh.lifecycle.certificate.expired", lifecycle("cell-a-client"))));
    expect(error).toMatchObject({ reason: "out_of_scope" });
    expect(error.message).toContain("arrived on credmesh.lifecycle.certificate.expired but says credmesh.lifecycle.certificate.near_expiry");
  });

  it("counts a certificate no cell lists as out of scope without judging it", async () => {
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const handler = lifecycleHandler({ cells, tracker: untouched, metrics, logger });
    await handler.handle(message("credmesh.lifecycle.certificate.near_expiry", lifecycle("someone-else")));
    expect(await metrics.registry.metrics()).toContain('credmesh_identity_observations_total{kind="lifecycle",outcome="out_of_scope"} 1');
  });
});

describe("watcherDeadLetters", () => {
  it("records a refused message on credmesh.dlq.identity-watcher, with the dead-letter schema, and counts it", async () => {
    const published: Array<{ stream: string; subject: string; record: unknown; msgId: string | undefined }> = [];
    const publisher = { publishRecord: async (stream: string, subject: string, record: unknown, msgId?: string) => (published.push({ stream, subject, record, msgId }), { subject, stream, seq: 1, duplicate: false }) };
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const { handler } = observations(["cell-a", "cell-b"]);
    const msg = message("credmesh.identity.cell-a.access_denied", accessDenied("cell-b"), 42);
    const error = await refusal(handler.handle(msg));
    await watcherDeadLetters({ publisher, metrics, logger, now: () => new Date("2026-02-01T00:00:01Z") })(msg, error);
    expect(published).toEqual([
      {
        stream: "CREDMESH_DLQ",
        subject: "credmesh.dlq.identity-watcher",
        msgId: "dlq:CREDMESH_IDENTITY:42",
        record: {
          at: "2026-02-01T00:00:01.000Z",
          cell: "identity-watcher",
          deliveries: 1,
          stream: "CREDMESH_IDENTITY",
          streamSequence: 42,
          subject: "credmesh.identity.cell-a.access_denied",
          error: { reason: "out_of_scope", retryable: false, message: error.message },
        },
      },
    ]);
    expect(await metrics.registry.metrics()).toContain('credmesh_dead_letters_total{destination="identity-watcher",reason="out_of_scope"} 1');
  });
});
