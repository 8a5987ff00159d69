import { randomBytes } from "node:crypto";
import { CreateSecretCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusTap } from "../support/bus-tap.ts";
import { cloudCallWindow, type CloudCalls } from "../support/cloud-calls.ts";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { postEventGrid, secretNewVersionCreated } from "../support/eventgrid.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";
import { postEventBridge } from "../support/replication-workload.ts";

/**
 * Issue 13 item 3: cloud calls per mutation, counted outside the code — Secrets Manager calls by
 * the recording proxy in front of moto, Key Vault calls by the emulator's own request counts. An
 * applied mutation costs at most 3 (one source read, one destination read, one write), a skipped
 * duplicate at most 2, in both directions. Mutations run one at a time, nothing else runs beside
 * them (no periodic reconcile), and the first mutation of each mesh warms credentials and Key
 * Vault's authentication challenge outside the count. README "Cloud calls per mutation".
 */
const ROUNDS = 3;

interface Counted {
  decision: string;
  calls: CloudCalls;
  total: number;
}

const settings = { CREDMESH_RECONCILE_INTERVAL_SECONDS: "0" };

describe("cloud calls per mutation", () => {
  describe("AWS → Azure", () => {
    let mesh: Mesh;
    let tap: BusTap;

    beforeAll(async () => {
      mesh = await startMesh({ namePrefixes: ["calls/"], replicatorEnv: settings });
      tap = new BusTap(mesh.bus, "credmesh.audit.>");
    }, 180_000);

    afterAll(async () => {
      tap?.stop();
      await mesh?.stop();
    }, 60_000);

    /** Makes a change in moto (or none: a repeated announcement) and counts what its mutation cost. */
    const mutation = async (name: string, change: "create" | "put" | "repeat", arn = ""): Promise<Counted & { arn: string }> => {
      let versionId = "";
      let secretArn = arn;
      if (change === "create") {
        const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: `v-${randomBytes(8).toString("hex")}` }));
        secretArn = created.ARN ?? "";
        versionId = created.VersionId ?? "";
      } else if (change === "put") {
        versionId = (await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: arn, SecretString: `v-${randomBytes(8).toString("hex")}` }))).VersionId ?? "";
      }
      const fixture = change === "create" ? "aws-cloudtrail-createsecret.json" : "aws-cloudtrail-putsecretvalue.json";
      const event = cloudTrailEvent(fixture, { arn: secretArn, name, account: AWS_ACCOUNT, region: AWS_REGION }, versionId ? { versionId } : {});
      const window = cloudCallWindow(mesh);
      await postEventBridge(mesh, event);
      const audit = await tap.auditFor(event.id as string, 60_000);
      return { decision: audit.decision, calls: window.calls(), total: window.totals().all, arn: secretArn };
    };

    it("applies with at most 3 calls and skips a duplicate with at most 2", async () => {
      await mutation(`calls/warm-${randomBytes(3).toString("hex")}`, "create");
      const counted: Counted[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const name = `calls/s${round}-${randomBytes(3).toString("hex")}`;
        const created = await mutation(name, "create");
        const repeated = await mutation(name, "repeat", created.arn);
        const updated = await mutation(name, "put", created.arn);
        counted.push(created, repeated, updated);
        expect([created.decision, repeated.decision, updated.decision]).toEqual(["applied", "skipped_duplicate", "applied"]);
        for (const applied of [created, updated]) expect(applied.total, JSON.stringify(applied.calls)).toBeLessThanOrEqual(3);
        expect(repeated.total, JSON.stringify(repeated.calls)).toBeLessThanOrEqual(2);
        // Which calls: one value read at the source, one destination look, one write.
        expect(created.calls).toEqual({ aws: { GetSecretValue: 1 }, azure: { GetSecret: 1, SetSecret: 1 } });
        expect(updated.calls).toEqual({ aws: { GetSecretValue: 1 }, azure: { GetSecret: 1, SetSecret: 1 } });
        expect(repeated.calls).toEqual({ aws: { GetSecretValue: 1 }, azure: { GetSecret: 1 } });
      }
      console.info(`cloud calls AWS → Azure: ${counted.map((entry) => `${entry.decision}=${entry.total}`).join(", ")}`);
    }, 120_000);
  });

  describe("Azure → AWS", () => {
    const VAULT = "credmesh-calls";
    const eventGridKey = randomBytes(24).toString("base64url");
    let mesh: Mesh;
    let tap: BusTap;

    beforeAll(async () => {
      mesh = await startMesh({
        awsToAzure: false,
        azureToAws: { vaultName: VAULT, namePrefixes: ["calls-"] },
        ingestEnv: { CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS: eventGridKey },
        replicatorEnv: settings,
      });
      tap = new BusTap(mesh.bus, "credmesh.audit.>");
    }, 180_000);

    afterAll(async () => {
      tap?.stop();
      await mesh?.stop();
    }, 60_000);

    /** Writes a Key Vault version (or none: a repeated announcement) and counts what its mutation cost. */
    const mutation = async (name: string, write: boolean, version?: string): Promise<Counted & { version: string }> => {
      const written = write ? (await mesh.keyVaultClient.setSecret(name, `v-${randomBytes(8).toString("hex")}`)).properties.version ?? "" : (version ?? "");
      const events = secretNewVersionCreated(VAULT, name, written);
      const window = cloudCallWindow(mesh);
      await postEventGrid(mesh.ingestUrl, eventGridKey, events);
      const audit = await tap.auditFor(String(events[0]?.id), 60_000);
      return { decision: audit.decision, calls: window.calls(), total: window.totals().all, version: written };
    };

    it("applies with at most 3 calls and skips a duplicate with at most 2", async () => {
      await mutation(`calls-warm-${randomBytes(3).toString("hex")}`, true);
      const counted: Counted[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const name = `calls-s${round}-${randomBytes(3).toString("hex")}`;
        const created = await mutation(name, true);
        const repeated = await mutation(name, false, created.version);
        const updated = await mutation(name, true);
        counted.push(created, repeated, updated);
        expect([created.decision, repeated.decision, updated.decision]).toEqual(["applied", "skipped_duplicate", "applied"]);
        for (const applied of [created, updated]) expect(applied.total, JSON.stringify(applied.calls)).toBeLessThanOrEqual(3);
        expect(repeated.total, JSON.stringify(repeated.calls)).toBeLessThanOrEqual(2);
        // No failing CreateSecret and no TagResource on an update: the destination look said the
        // secret exists and carries its tags already.
        expect(created.calls).toEqual({ azure: { GetSecret: 1 }, aws: { DescribeSecret: 1, CreateSecret: 1 } });
        expect(updated.calls).toEqual({ azure: { GetSecret: 1 }, aws: { DescribeSecret: 1, PutSecretValue: 1 } });
        expect(repeated.calls).toEqual({ azure: { GetSecret: 1 }, aws: { DescribeSecret: 1 } });
      }
      console.info(`cloud calls Azure → AWS: ${counted.map((entry) => `${entry.decision}=${entry.total}`).join(", ")}`);
    }, 120_000);
  });
});
