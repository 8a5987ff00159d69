/**
 * The identity-watcher on real processes (issue 9, "Must show", first item): a cell's Roles
 * Anywhere certificate, mounted as Kubernetes projects it (`tls.crt` → `..data/tls.crt`, `..data`
 * swapped atomically to a new timestamped directory), is renewed → a `renewed` event and the old
 * certificate's series are gone from /metrics at once; a certificate past its renewal point →
 * `renewal_due` before any expiry event; an expired one → `expired`, and with the
 * expired-certificate policy on the cell is quarantined: its replicator stops (/readyz says why),
 * its IAM role in moto carries CellStatus=Quarantined and the revoke-older-sessions deny, and the
 * emulated Entra refuses its principal a token.
 */
import { X509Certificate } from "node:crypto";
import { mkdir, rename, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GetRolePolicyCommand, IAMClient, ListRoleTagsCommand } from "@aws-sdk/client-iam";
import { decodeIdentityEvent, decodeQuarantineRecord, type IdentityEvent } from "@credmesh/events";
import { KV_BUCKETS, cellKey } from "@credmesh/bus-names";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPki, type Issued, type Pki } from "../emulators/roles-anywhere/pki.ts";
import { BusTap } from "../support/bus-tap.ts";
import { managedIdentityToken } from "../support/entra.ts";
import { AWS_REGION, ROLE_ARN, cellClientId, startMesh, type Mesh } from "../support/mesh.ts";
import { metricSum, scrape } from "../support/replication-workload.ts";

const CELL = "e2e-azure-1";
const DAY = 86_400_000;

describe("identity-watcher: certificate renewal, renewal due, expiry and automatic quarantine", () => {
  let pki: Pki;
  let ca: Issued;
  let mesh: Mesh;
  let tap: BusTap;
  let mount: string;
  let generation = 0;

  /** Projects `certificate` into the mount as the kubelet does: a new directory, then one atomic `..data` swap. */
  async function project(certificate: Issued): Promise<void> {
    generation += 1;
    const target = `..2026_12_07_${String(generation).padStart(2, "0")}`;
    await mkdir(join(mount, target));
    await writeFile(join(mount, target, "tls.crt"), certificate.certPem);
    await writeFile(join(mount, target, "ca.crt"), ca.certPem);
    await symlink(target, join(mount, "..data_tmp"));
    await rename(join(mount, "..data_tmp"), join(mount, "..data"));
  }

  const events = (kind: string): IdentityEvent[] =>
    tap.messages.filter((message) => message.subject === `credmesh.identity.${CELL}.${kind}`).map((message) => decodeIdentityEvent(new TextEncoder().encode(message.data)));

  async function waitForEvent(kind: string, serial: string): Promise<IdentityEvent> {
    const message = await tap.waitFor(
      (m) => m.subject === `credmesh.identity.${CELL}.${kind}` && (JSON.parse(m.data) as { data: { certificate?: { serialNumber?: string } } }).data.certificate?.serialNumber === serial,
      30_000,
    );
    return decodeIdentityEvent(new TextEncoder().encode(message.data));
  }

  const serialOf = (certificate: Issued): string => new X509Certificate(certificate.certPem).serialNumber.toUpperCase().replace(/^0+(?=.)/, "");

  beforeAll(async () => {
    pki = await createPki();
    ca = await pki.ca("credmesh cells CA");
    mount = join(pki.dir, "cell-identity");
    await mkdir(mount);
    const first = await pki.leaf(CELL, { issuer: ca, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 89 * DAY) });
    await project(first);
    await symlink("..data/tls.crt", join(mount, "tls.crt"));
    await symlink("..data/ca.crt", join(mount, "ca.crt"));
    mesh = await startMesh({
      identityWatcher: {
        cells: [
          "cells:",
          `  - id: ${CELL}`,
          "    certificates:",
          `      - path: ${join(mount, "tls.crt")}`,
          `        expectedCommonName: ${CELL}`,
          `        trustAnchorFile: ${join(mount, "ca.crt")}`,
          `    aws: { roleArn: "${ROLE_ARN}" }`,
          `    azure: { appId: "${cellClientId(0)}" }`,
          "    policies: { expiredCertificate: true }",
          "",
        ].join("\n"),
      },
    });
    tap = new BusTap(mesh.bus, "credmesh.>");
  });

  afterAll(async () => {
    await mesh?.stop();
    await pki?.remove();
  });

  it("judges the mounted certificate ok and exports it under the x509 names", async () => {
    const url = mesh.identityWatcherOpsUrl ?? "";
    await expect.poll(async () => metricSum(await scrape(url), "credmesh_cert_state", { cell: CELL, state: "ok" }), { timeout: 30_000 }).toBe(1);
    const metrics = await scrape(url);
    const series = metrics.filter((sample) => sample.name === "x509_cert_not_after" && sample.labels.cell === CELL);
    expect(series).toHaveLength(1);
    expect(series[0]?.labels).toMatchObject({ filepath: join(mount, "tls.crt"), subject_CN: CELL, issuer_CN: "credmesh cells CA" });
    expect(events("ok")).toEqual([]);
  });

  it("reports a renewal (new fingerprint at the same place) and retires the old certificate's series at once", async () => {
    const url = mesh.identityWatcherOpsUrl ?? "";
    const before = (await scrape(url)).find((sample) => sample.name === "x509_cert_not_after" && sample.labels.cell === CELL);
    const oldSerial = before?.labels.serial_number ?? "";
    const renewed = await pki.leaf(CELL, { issuer: ca, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 90 * DAY) });
    await project(renewed);
    const event = await waitForEvent("renewed", serialOf(renewed));
    expect(event.data).toMatchObject({ kind: "renewed", cell: CELL, state: "ok", previousCertificate: { serialNumber: oldSerial }, certificate: { subjectCN: CELL } });
    const after = await scrape(url);
    const serials = after.filter((sample) => sample.name.startsWith("x509_cert_") && sample.labels.cell === CELL).map((sample) => sample.labels.serial_number);
    expect(serials).not.toContain(oldSerial);
    expect(new Set(serials)).toEqual(new Set([serialOf(renewed)]));
    expect(JSON.stringify(event)).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  });

  it("says renewal_due for a certificate past its renewal point, before any expiry event", async () => {
    // 130 days of life, 90 gone: past 2/3, with 40 days left (no near-expiry threshold crossed).
    const aging = await pki.leaf(CELL, { issuer: ca, notBefore: new Date(Date.now() - 90 * DAY), notAfter: new Date(Date.now() + 40 * DAY) });
    await project(aging);
    const event = await waitForEvent("renewal_due", serialOf(aging));
    expect(event.data).toMatchObject({ kind: "renewal_due", state: "renewal_due", previousState: "ok" });
    expect(events("near_expiry")).toEqual([]);
    expect(events("expired")).toEqual([]);
    const url = mesh.identityWatcherOpsUrl ?? "";
    const due = metricSum(await scrape(url), "credmesh_cert_renewal_due_timestamp_seconds", { cell: CELL });
    expect(due * 1000).toBeLessThan(Date.now());
  });

  it("says expired for an expired certificate and, with the policy on, quarantines the cell in the mesh, AWS and Azure", async () => {
    const expired = await pki.leaf(CELL, { issuer: ca, notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - 3_600_000) });
    await project(expired);
    const event = await waitForEvent("expired", serialOf(expired));
    expect(event.data).toMatchObject({ kind: "expired", state: "expired" });

    const quarantined = decodeIdentityEvent(new TextEncoder().encode((await tap.waitFor((m) => m.subject === `credmesh.identity.${CELL}.quarantined`, 30_000)).data));
    expect(quarantined.data).toMatchObject({ kind: "quarantined", cell: CELL, by: "identity-watcher", trigger: { type: "policy", policy: "expired_certificate", eventId: event.id } });
    const audit = await tap.waitFor((m) => m.subject === `credmesh.audit.quarantine.${CELL}`, 10_000);
    expect(JSON.parse(audit.data)).toMatchObject({ decision: "quarantined", cell: CELL, by: "identity-watcher" });

    const kv = await new Kvm(mesh.bus).open(KV_BUCKETS.quarantine);
    const entry = await kv.get(cellKey(CELL));
    expect(entry && decodeQuarantineRecord(entry.value)).toMatchObject({ state: "quarantined", trigger: { policy: "expired_certificate" } });

    // In the mesh: the replicator of the cell is closed and says why.
    await expect
      .poll(async () => (await (await fetch(`${mesh.replicatorOpsUrl}/readyz`)).json()) as { ready: boolean; details?: Record<string, string> }, { timeout: 10_000 })
      .toMatchObject({ ready: false, details: { quarantine: expect.stringContaining("policy expired_certificate") as string } });

    // In AWS (moto): the role's tag and the revoke-older-sessions deny.
    const iam = new IAMClient({ region: AWS_REGION, endpoint: mesh.moto.endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
    await expect.poll(async () => (await iam.send(new ListRoleTagsCommand({ RoleName: "credmesh-replicator" }))).Tags, { timeout: 10_000 }).toContainEqual({ Key: "CellStatus", Value: "Quarantined" });
    const policy = await iam.send(new GetRolePolicyCommand({ RoleName: "credmesh-replicator", PolicyName: "credmesh-quarantine-revoke-older-sessions" }));
    const document = JSON.parse(decodeURIComponent(policy.PolicyDocument ?? "")) as { Statement: Array<{ Effect: string; Condition: { DateLessThan: Record<string, string> } }> };
    expect(document.Statement[0]).toMatchObject({ Effect: "Deny", Condition: { DateLessThan: { "aws:TokenIssueTime": quarantined.data.kind === "quarantined" ? quarantined.data.at : "" } } });
    iam.destroy();

    // In Azure (emulator): the cell's principal is disabled and refused a token.
    await expect.poll(() => mesh.keyVault.servicePrincipals().find((p) => p.appId === cellClientId(0))?.accountEnabled, { timeout: 10_000 }).toBe(false);
    const refused = await managedIdentityToken(mesh.keyVault, cellClientId(0));
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: "unauthorized_client", error_description: expect.stringMatching(/^AADSTS7000112: /) as string });

    // One transition each: the expired certificate is judged again on every scan, and announced once.
    const scanned = Date.now() / 1000;
    await expect.poll(async () => metricSum(await scrape(mesh.identityWatcherOpsUrl ?? ""), "credmesh_identity_last_scan_timestamp_seconds"), { timeout: 10_000 }).toBeGreaterThan(scanned + 1);
    expect(events("expired")).toHaveLength(1);
    expect(tap.messages.filter((m) => m.subject === `credmesh.identity.${CELL}.quarantined`)).toHaveLength(1);
  });
});
