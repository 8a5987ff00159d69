/**
 * The kill switch on real processes (issue 9, "Must show", items 2 and 3): two Azure replicator
 * cells share the work while mutations flow at a steady rate; `credmesh quarantine e2e-azure-1`
 * stops every cloud call made with that cell's identity within a second — measured from the
 * recording proxy in front of moto (access keys issued to the cell's STS session) and the Key Vault
 * emulator's request log (tokens and vault calls of the cell's Entra principal), not from the
 * service's own word — while the other cell keeps replicating. The role in moto carries the
 * quarantine tag and the revoke-older-sessions deny, the emulator refuses the disabled principal a
 * token. After `credmesh release`, nothing was lost or dead-lettered: every secret's replica holds
 * its latest version, and the released cell works again with new credentials.
 */
import { randomBytes } from "node:crypto";
import { CreateSecretCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { GetRolePolicyCommand, IAMClient, ListRoleTagsCommand } from "@aws-sdk/client-iam";
import type { Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusTap } from "../support/bus-tap.ts";
import { managedIdentityToken } from "../support/entra.ts";
import { runCredmesh } from "../support/credmesh-cli.ts";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { AWS_ACCOUNT, AWS_REGION, ROLE_ARN, cellClientId, startMesh, type Mesh } from "../support/mesh.ts";
import { deadLetterCount, postEventBridge, waitForAudits } from "../support/replication-workload.ts";

const CELL = "e2e-azure-1";
const OTHER = "e2e-azure-2";
const OTHER_ROLE_ARN = `arn:aws:iam::${AWS_ACCOUNT}:role/credmesh-replicator-2`;
const SECRETS = 16;

interface Secret {
  name: string;
  arn: string;
  versions: string[];
}

describe("quarantine by CLI while mutations flow", () => {
  let mesh: Mesh;
  let tap: BusTap;
  let control: Subscription;
  const requests: Array<{ subject: string; at: number }> = [];
  const secrets: Secret[] = [];
  const eventIds: string[] = [];

  async function change(secret: Secret): Promise<void> {
    const value = `q-${randomBytes(12).toString("base64url")}`;
    let versionId: string;
    let fixture: string;
    if (secret.arn === "") {
      const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: secret.name, SecretString: value }));
      secret.arn = created.ARN ?? "";
      versionId = created.VersionId ?? "";
      fixture = "aws-cloudtrail-createsecret.json";
    } else {
      versionId = (await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: secret.arn, SecretString: value }))).VersionId ?? "";
      fixture = "aws-cloudtrail-putsecretvalue.json";
    }
    secret.versions.push(versionId);
    const event = cloudTrailEvent(fixture, { arn: secret.arn, name: secret.name, account: AWS_ACCOUNT, region: AWS_REGION }, { versionId });
    eventIds.push(event.id as string);
    await postEventBridge(mesh, event);
  }

  /** Changes secrets round robin, one every `everyMs`, until `stop` is set. */
  function steady(everyMs: number): { stop: () => Promise<number> } {
    let running = true;
    let made = 0;
    const loop = (async () => {
      for (let index = 0; running; index++) {
        const started = Date.now();
        await change(secrets[index % secrets.length] as Secret);
        made += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, everyMs - (Date.now() - started))));
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return made;
      },
    };
  }

  /** When the cell's identity was used, by an independent record: AWS calls signed with its sessions' keys, and its Entra principal's token and vault calls. */
  function callsOf(cell: string, replica: number): number[] {
    const keys = new Set([...mesh.awsProxy.issued.values()].filter((issued) => issued.sessionName === `credmesh-${cell}`).map((issued) => issued.accessKeyId));
    const aws = mesh.awsProxy.requests.filter((request) => (request.accessKeyId !== undefined && keys.has(request.accessKeyId)) || request.params.get("RoleSessionName") === `credmesh-${cell}`).map((request) => request.at);
    const azure = mesh.keyVault.requestLog().filter((entry) => entry.clientId === cellClientId(replica)).map((entry) => entry.at);
    return [...aws, ...azure].sort((a, b) => a - b);
  }

  beforeAll(async () => {
    mesh = await startMesh({
      replicas: 2,
      replicatorEnv: { CREDMESH_PIN_TIMEOUT_MS: "1000", CREDMESH_QUARANTINE_RECHECK_MS: "1000", CREDMESH_LOG_LEVEL: "info" },
      replicaEnv: (replica): Record<string, string> => (replica === 1 ? { CREDMESH_AWS_ROLE_ARN: OTHER_ROLE_ARN } : {}),
      identityWatcher: {
        cells: [
          "cells:",
          `  - id: ${CELL}`,
          `    aws: { roleArn: "${ROLE_ARN}" }`,
          `    azure: { appId: "${cellClientId(0)}" }`,
          `  - id: ${OTHER}`,
          `    azure: { appId: "${cellClientId(1)}" }`,
          "",
        ].join("\n"),
      },
    });
    tap = new BusTap(mesh.bus, "credmesh.>");
    control = mesh.bus.subscribe("credmesh.control.>", {
      callback: (_error, msg) => {
        requests.push({ subject: msg.subject, at: Date.now() });
      },
    });
    for (let index = 0; index < SECRETS; index++) secrets.push({ name: `prod/quarantine/s${String(index).padStart(2, "0")}-${randomBytes(3).toString("hex")}`, arn: "", versions: [] });
    for (const secret of secrets) await change(secret);
    await waitForAudits(tap, eventIds, 60_000);
  });

  afterAll(async () => {
    control?.unsubscribe();
    await mesh?.stop();
  });

  it("stops the cell's cloud calls within a second, keeps the other cell replicating, and loses nothing", async () => {
    const cli = { ...mesh.nats.env({ kind: "operator" }), CREDMESH_OPERATOR: "e2e-operator" };
    const workload = steady(100);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(callsOf(CELL, 0).length).toBeGreaterThan(0);

    const spawnedAt = Date.now();
    const run = await runCredmesh(["quarantine", CELL, "--reason", "e2e: key seen in a CI log", "--json"], { env: cli });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { outcome: string; requestedAt: string; layers: Record<string, string> };
    expect(result).toMatchObject({ outcome: "quarantined", layers: { mesh: "applied", aws: "applied", azure: "applied" } });
    // Timed from the moment the CLI sent the command (its own clock, this machine's), not from the
    // service; the test's own subscription sees the request later when its event loop is busy.
    const requestedAt = Date.parse(result.requestedAt);
    const seenAt = requests.find((request) => request.subject === `credmesh.control.quarantine.${CELL}`)?.at ?? Number.NaN;

    // The other cell takes over the partitions (pin timeout 1 s) while this one stays stopped.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const observedUntil = Date.now();
    const cellCalls = callsOf(CELL, 0);
    const lastCall = cellCalls.filter((at) => at < observedUntil).at(-1) ?? 0;
    const busyBefore = cellCalls.filter((at) => at >= requestedAt - 2_000 && at < requestedAt).length;
    const otherAfter = callsOf(OTHER, 1).filter((at) => at > requestedAt + 1_500).length;
    console.info(
      `quarantine latency: command sent → last call with the cell's identity ${lastCall - requestedAt} ms ` +
        `(CLI process started ${requestedAt - spawnedAt} ms before sending; the test saw the request ${seenAt - requestedAt} ms after); ` +
        `cell calls in the 2 s before: ${busyBefore}; other cell's calls after: ${otherAfter}`,
    );
    expect(busyBefore).toBeGreaterThan(0);
    expect(lastCall - requestedAt).toBeLessThan(1_000);
    expect(otherAfter).toBeGreaterThan(0);
    const otherApplied = tap
      .auditRecords()
      .filter((record) => record.cell === OTHER && record.decision === "applied" && Date.parse(String(record.at)) > requestedAt + 1_500);
    expect(otherApplied.length).toBeGreaterThan(0);

    // The replicator of the cell says why it is not ready.
    const ready = (await (await fetch(`${mesh.replicatorOpsUrls[0]}/readyz`)).json()) as { ready: boolean; details?: Record<string, string> };
    expect(ready).toMatchObject({ ready: false, details: { quarantine: expect.stringContaining("by operator e2e-operator: e2e: key seen in a CI log") as string } });

    // AWS (moto): the role carries the tag and the deny of sessions issued before the quarantine.
    const iam = new IAMClient({ region: AWS_REGION, endpoint: mesh.moto.endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
    expect((await iam.send(new ListRoleTagsCommand({ RoleName: "credmesh-replicator" }))).Tags).toContainEqual({ Key: "CellStatus", Value: "Quarantined" });
    const revoke = await iam.send(new GetRolePolicyCommand({ RoleName: "credmesh-replicator", PolicyName: "credmesh-quarantine-revoke-older-sessions" }));
    expect(decodeURIComponent(revoke.PolicyDocument ?? "")).toMatch(/"DateLessThan":\{"aws:TokenIssueTime":"[0-9T:.-]+Z"\}/);

    // Azure (emulator): the principal is disabled, Entra refuses it a token.
    const refused = await managedIdentityToken(mesh.keyVault, cellClientId(0));
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: "unauthorized_client", error_description: expect.stringMatching(/^AADSTS7000112: /) as string });

    // Quarantining twice is harmless and says so.
    const again = await runCredmesh(["quarantine", CELL, "--reason", "again"], { env: cli });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/was already quarantined \(nothing changed\)/);

    const releasedAt = Date.now();
    const release = await runCredmesh(["release", CELL, "--reason", "e2e: credentials rotated"], { env: cli });
    expect(release.code).toBe(0);
    expect(release.stdout).toMatch(new RegExp(`^cell ${CELL} released`));
    await workload.stop();

    // Nothing lost: every mutation was audited, no dead letter, every replica at its latest version.
    await waitForAudits(tap, eventIds, 90_000);
    expect(await deadLetterCount(mesh.bus)).toBe(0);
    for (const secret of secrets) {
      await expect
        .poll(async () => {
          let latest: string | undefined;
          for await (const properties of mesh.keyVaultClient.listPropertiesOfSecrets()) {
            if (properties.tags?.["credmesh-origin-name"] === secret.name) latest = properties.tags["credmesh-origin-version"];
          }
          return latest;
        }, { timeout: 30_000 })
        .toBe(secret.versions.at(-1));
    }

    // The released cell works again, with sessions issued after the release: stop the other cell so
    // the partitions come back, and change every secret once more.
    await mesh.replicators[1]?.stop();
    const more = eventIds.length;
    for (const secret of secrets) await change(secret);
    await waitForAudits(tap, eventIds.slice(more), 90_000);
    const cellKeys = new Set([...mesh.awsProxy.issued.values()].filter((issued) => issued.sessionName === `credmesh-${CELL}`).map((issued) => issued.accessKeyId));
    const used = (from: number, to: number): Set<string | undefined> =>
      new Set(mesh.awsProxy.requests.filter((r) => r.at >= from && r.at < to && r.action.startsWith("secretsmanager.") && cellKeys.has(r.accessKeyId ?? "")).map((r) => r.accessKeyId));
    const before = used(0, releasedAt);
    const after = used(releasedAt, Date.now() + 1);
    expect(before.size).toBeGreaterThan(0);
    expect(after.size).toBeGreaterThan(0);
    expect([...after].filter((key) => before.has(key))).toEqual([]);
    expect((await iam.send(new ListRoleTagsCommand({ RoleName: "credmesh-replicator" }))).Tags).toContainEqual({ Key: "CellStatus", Value: "Active" });
    iam.destroy();
  });
});
