/**
 * Transitions, exactly (issue 9, "Must show", last two items), on real processes: a flood of 1,000
 * identical clock skew observations makes one quarantine transition, not 1,000; and an
 * identity-watcher killed (SIGKILL) in the middle of certificate renewals, vault lifecycle events
 * and another flood repeats no transition and misses none once a new one starts — counted in the
 * CREDMESH_IDENTITY stream itself, by distinct event id.
 */
import { randomUUID } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { IDENTITY_WATCHER_DURABLES, STREAMS, identitySubject } from "@credmesh/bus-names";
import { buildIdentityEvent, buildLifecycleEvent, type IdentityEventData } from "@credmesh/events";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPki, type Issued, type Pki } from "../emulators/roles-anywhere/pki.ts";
import { startMesh, type Mesh } from "../support/mesh.ts";
import type { ManagedProcess } from "../support/managed-process.ts";
import { metricSum, scrape } from "../support/replication-workload.ts";

const CELL = "e2e-azure-1";
const FILES = 12;
const VAULT = "cellvault";
const VAULT_CERT = "cell-cert";

interface Stored {
  subject: string;
  id: string;
  data: Record<string, unknown>;
}

describe("identity-watcher: one transition per change, across floods and a crash", () => {
  let pki: Pki;
  let ca: Issued;
  let mesh: Mesh;
  let dir: string;
  let watcher: ManagedProcess | undefined;

  /** Every message in CREDMESH_IDENTITY, read from the stream (what consumers see). */
  async function stored(): Promise<Stored[]> {
    const js = jetstream(mesh.bus);
    const consumer = await js.consumers.get(STREAMS.identity.name, { deliver_policy: DeliverPolicy.All });
    const total = (await (await jetstreamManager(mesh.bus)).streams.info(STREAMS.identity.name)).state.messages;
    const messages: Stored[] = [];
    while (messages.length < total) {
      const batch = await consumer.fetch({ max_messages: 500, expires: 2_000 });
      let got = 0;
      for await (const msg of batch) {
        const event = msg.json<{ id: string; data: Record<string, unknown> }>();
        messages.push({ subject: msg.subject, id: event.id, data: event.data });
        got += 1;
      }
      if (got === 0) break;
    }
    return messages;
  }

  async function publishObservation(data: IdentityEventData): Promise<void> {
    const event = buildIdentityEvent({ id: randomUUID(), producer: "replicator", data });
    await jetstream(mesh.bus).publish(identitySubject(data.cell, data.kind), JSON.stringify(event), { msgID: event.id });
  }

  const skew = (cell: string): IdentityEventData => ({
    kind: "clock_skew",
    cell,
    credentialSource: "aws/web-identity-token-file",
    claim: "iat",
    claimedAt: "2026-12-07T00:10:00.000Z",
    observedAt: new Date().toISOString(),
    offsetSeconds: 600,
    toleranceSeconds: 300,
    action: "refused",
  });

  async function lifecycle(kind: "new_version" | "near_expiry", version: string, issuedDaysAgo: number, expiresInDays: number): Promise<void> {
    const event = buildLifecycleEvent({
      kind,
      objectType: "certificate",
      vaultName: VAULT,
      objectName: VAULT_CERT,
      version,
      notBefore: new Date(Date.now() - issuedDaysAgo * 86_400_000).toISOString(),
      expiresAt: new Date(Date.now() + expiresInDays * 86_400_000).toISOString(),
      trigger: { source: "azure.eventgrid", eventId: randomUUID(), eventName: `Microsoft.KeyVault.Certificate${kind === "new_version" ? "NewVersionCreated" : "NearExpiry"}`, eventTime: new Date().toISOString() },
    });
    await jetstream(mesh.bus).publish(`credmesh.lifecycle.certificate.${kind}`, JSON.stringify(event), { msgID: event.id });
  }

  /** Writes a new certificate for the cell into a file atomically (a renewal, as cert-manager writes). */
  async function renew(index: number): Promise<void> {
    const leaf = await pki.leaf(CELL, { issuer: ca, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 90 * 86_400_000) });
    const path = join(dir, `cell-${String(index).padStart(2, "0")}.crt`);
    await writeFile(`${path}.tmp`, leaf.certPem);
    await rename(`${path}.tmp`, path);
  }

  async function drained(): Promise<void> {
    const jsm = await jetstreamManager(mesh.bus);
    await expect
      .poll(
        async () => {
          const infos = await Promise.all([
            jsm.consumers.info(STREAMS.identity.name, IDENTITY_WATCHER_DURABLES.observations),
            jsm.consumers.info(STREAMS.lifecycle.name, IDENTITY_WATCHER_DURABLES.lifecycle),
          ]);
          return infos.reduce((sum, info) => sum + info.num_pending + info.num_ack_pending, 0);
        },
        { timeout: 90_000, interval: 250 },
      )
      .toBe(0);
  }

  /** Waits until the running watcher finished a scan that began after now. */
  async function scannedAfterNow(): Promise<void> {
    const now = Date.now() / 1000;
    await expect.poll(async () => metricSum(await scrape(mesh.identityWatcherOpsUrl ?? ""), "credmesh_identity_last_scan_timestamp_seconds"), { timeout: 30_000, interval: 200 }).toBeGreaterThan(now + 0.5);
  }

  beforeAll(async () => {
    pki = await createPki();
    ca = await pki.ca("credmesh cells CA");
    dir = join(pki.dir, "certificates");
    await mkdir(dir);
    await writeFile(join(dir, "anchor.pem"), ca.certPem);
    for (let index = 0; index < FILES; index++) await renew(index);
    mesh = await startMesh({
      identityWatcher: {
        cells: [
          "cells:",
          `  - id: ${CELL}`,
          "    certificates:",
          `      - path: "${join(dir, "*.crt")}"`,
          `        expectedCommonName: ${CELL}`,
          `        trustAnchorFile: ${join(dir, "anchor.pem")}`,
          `    vaultCertificates: [{ vault: ${VAULT}, name: ${VAULT_CERT} }]`,
          "  - id: flood-cell-1",
          "    policies: { clockSkew: true }",
          "  - id: flood-cell-2",
          "    policies: { clockSkew: true }",
          "",
        ].join("\n"),
      },
    });
    watcher = mesh.identityWatcher;
  });

  afterAll(async () => {
    await watcher?.stop();
    await mesh?.stop();
    await pki?.remove();
  });

  it("makes one quarantine transition of 1,000 identical clock skew observations", async () => {
    for (let index = 0; index < 1_000; index++) await publishObservation(skew("flood-cell-1"));
    await drained();
    const messages = await stored();
    expect(messages.filter((m) => m.subject === "credmesh.identity.flood-cell-1.quarantined")).toHaveLength(1);
    const jsm = await jetstreamManager(mesh.bus);
    const audit = await jsm.streams.info(STREAMS.audit.name, { subjects_filter: "credmesh.audit.quarantine.flood-cell-1" });
    expect(audit.state.subjects?.["credmesh.audit.quarantine.flood-cell-1"]).toBe(1);
    const metrics = await scrape(mesh.identityWatcherOpsUrl ?? "");
    expect(metricSum(metrics, "credmesh_identity_observations_total", { kind: "clock_skew" })).toBe(1_000);
    expect(metricSum(metrics, "credmesh_identity_observations_total", { kind: "clock_skew", outcome: "quarantined" })).toBe(1);
  });

  it("repeats no transition and misses none when it is killed mid-run", async () => {
    await scannedAfterNow();
    await lifecycle("new_version", "a".repeat(32), 1, 300);
    // Before the crash: renewals the running watcher sees.
    for (let index = 0; index < 4; index++) await renew(index);
    await expect.poll(async () => (await stored()).filter((m) => m.subject.endsWith(".renewed")).length, { timeout: 30_000 }).toBe(4);
    // During: more renewals and a second flood, and the watcher is killed in the middle of them.
    for (let index = 4; index < 8; index++) await renew(index);
    for (let index = 0; index < 300; index++) await publishObservation(skew("flood-cell-2"));
    await watcher?.kill();
    // While it is down: renewals, and a new vault certificate version that is already past its
    // renewal point and 5 days from expiry (a version issued long ago, imported late).
    for (let index = 8; index < FILES; index++) await renew(index);
    await lifecycle("new_version", "b".repeat(32), 85, 5);
    for (let index = 0; index < 200; index++) await publishObservation(skew("flood-cell-2"));

    watcher = await mesh.startIdentityWatcher();
    await drained();
    await scannedAfterNow();
    await scannedAfterNow();

    const messages = await stored();
    const byKind = (kind: string): Stored[] => messages.filter((m) => m.subject === `credmesh.identity.${CELL}.${kind}`);
    const renewedPlaces = byKind("renewed").map((m) => String(m.data.place));
    const files = renewedPlaces.filter((place) => place.startsWith(dir));
    // Every file renewed once since the first scan, each reported exactly once.
    expect(files.sort()).toEqual(Array.from({ length: FILES }, (_, index) => join(dir, `cell-${String(index).padStart(2, "0")}.crt`)));
    expect(new Set(byKind("renewed").map((m) => m.id)).size).toBe(byKind("renewed").length);
    // The vault certificate: its first version was ok (no event), the second a renewal into near expiry.
    expect(renewedPlaces.filter((place) => place === `keyvault/${VAULT}/${VAULT_CERT}`)).toHaveLength(1);
    expect(byKind("near_expiry").map((m) => m.data.place)).toEqual([`keyvault/${VAULT}/${VAULT_CERT}`]);
    expect(messages.filter((m) => m.subject === "credmesh.identity.flood-cell-2.quarantined")).toHaveLength(1);
    expect(messages.filter((m) => m.subject === "credmesh.identity.flood-cell-1.quarantined")).toHaveLength(1);
    // Nothing else changed state: no spurious absent, invalid or ok transitions from the restart.
    const kinds = new Set(messages.filter((m) => m.subject.startsWith(`credmesh.identity.${CELL}.`)).map((m) => m.subject.split(".").at(-1)));
    expect([...kinds].sort()).toEqual(["near_expiry", "renewed"]);
  });
});
