import { createHmac, randomBytes } from "node:crypto";
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BusTap } from "../support/bus-tap.ts";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { appEvents, appReads, startExampleApp, untilReads, type AppRead } from "../support/failover-client.ts";
import type { ManagedProcess } from "../support/managed-process.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";
import { startMoto, type MotoPart } from "../support/parts.ts";
import { startRecordingProxy, type RecordingProxy } from "../support/recording-proxy.ts";
import { postEventBridge } from "../support/replication-workload.ts";

/**
 * The failover client end to end (issue 11 "Must show"): examples/failover-app reads a secret
 * through its primary (AWS, moto) while credmesh replicates it to Azure (the Key Vault emulator).
 * A rotation reaches the app through the cache within the refresh bound; the primary's process is
 * killed mid-run and the reads continue from the replica; the primary comes back on the same port
 * and the reads move back through the half-open breaker. The app only ever prints a keyed
 * fingerprint of what it read; the test compares it with the value it wrote.
 */
describe("failover client: the example app reads through credmesh's replica", () => {
  let mesh: Mesh;
  let tap: BusTap;
  let appProxy: RecordingProxy;
  let revivedMoto: MotoPart | undefined;
  const apps: ManagedProcess[] = [];
  const fingerprintKey = randomBytes(32).toString("hex");
  const fingerprint = (value: string): string => createHmac("sha256", fingerprintKey).update(value, "utf8").digest("hex").slice(0, 16);

  beforeAll(async () => {
    mesh = await startMesh({ namePrefixes: ["prod/"] });
    tap = new BusTap(mesh.bus);
    // The app's own view of AWS, counted apart from the replicator's calls.
    appProxy = await startRecordingProxy(mesh.moto.endpoint);
  }, 180_000);

  afterEach((context) => {
    if (context.task.result?.state === "fail") {
      for (const app of apps) console.error(`--- failover-app ---\n${app.tail(30)}`);
      console.error(`--- replicator ---\n${mesh.replicator.tail(20)}`);
    }
  });

  afterAll(async () => {
    await Promise.allSettled(apps.map((app) => app.stop()));
    tap?.stop();
    await appProxy?.stop();
    await revivedMoto?.stop();
    await mesh?.stop();
  }, 60_000);

  /** What the app is configured with: AWS primary, Key Vault fallback, passwordless identities. */
  const appEnv = (name: string, awsEndpoint: string, extra: Record<string, string>): Record<string, string> => ({
    CREDMESH_APP_SECRET_NAME: name,
    CREDMESH_APP_FINGERPRINT_KEY: fingerprintKey,
    CREDMESH_RULES_FILE: mesh.rulesFile,
    CREDMESH_CLIENT_PRIMARY: "aws",
    CREDMESH_CLIENT_FALLBACK: "azure",
    CREDMESH_CLIENT_AWS_ACCOUNT: AWS_ACCOUNT,
    CREDMESH_CLIENT_AWS_REGION: AWS_REGION,
    CREDMESH_CLIENT_AWS_ENDPOINT: awsEndpoint,
    CREDMESH_CLIENT_AWS_STS_ENDPOINT: awsEndpoint,
    // A workload in Azure: its managed identity, exchanged with STS for the app's AWS role.
    CREDMESH_CLIENT_AWS_CREDENTIALS: "azure-managed-identity",
    CREDMESH_CLIENT_AWS_ROLE_ARN: `arn:aws:iam::${AWS_ACCOUNT}:role/payments-app`,
    CREDMESH_CLIENT_AZURE_IDENTITY_ENDPOINT: mesh.keyVault.imdsEndpoint,
    CREDMESH_CLIENT_AZURE_VAULT_URL: mesh.replicaVaultUrl,
    CREDMESH_CLIENT_AZURE_CREDENTIAL: "managed-identity",
    CREDMESH_CLIENT_AZURE_CA_FILE: mesh.keyVault.caCertPath,
    CREDMESH_CLIENT_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: "true",
    ...extra,
  });

  const launch = async (env: Record<string, string>): Promise<ManagedProcess> => {
    const app = await startExampleApp(env);
    apps.push(app);
    return app;
  };

  /** Writes in moto, posts the change's EventBridge event, waits for the replicator's `applied`. */
  const change = async (secret: { name: string; arn?: string }, value: string): Promise<{ arn: string; versionId: string }> => {
    let arn = secret.arn ?? "";
    let versionId: string;
    let fixture: string;
    if (!secret.arn) {
      const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: secret.name, SecretString: value }));
      arn = created.ARN ?? "";
      versionId = created.VersionId ?? "";
      fixture = "aws-cloudtrail-createsecret.json";
    } else {
      versionId = (await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: arn, SecretString: value }))).VersionId ?? "";
      fixture = "aws-cloudtrail-putsecretvalue.json";
    }
    const event = cloudTrailEvent(fixture, { arn, name: secret.name, account: AWS_ACCOUNT, region: AWS_REGION }, { versionId });
    await postEventBridge(mesh, event);
    expect((await tap.auditFor(event.id as string, 60_000)).decision).toBe("applied");
    return { arn, versionId };
  };

  const served = (read: AppRead) => read.read?.servedBy.role;

  it("picks up a rotation at the origin through the cache within the refresh bound, reading the value only when the version changed", async () => {
    const name = `prod/rotation/${randomBytes(4).toString("hex")}`;
    const first = `pw-${randomBytes(18).toString("base64url")}`;
    const secret = await change({ name }, first);
    const ttlMs = 4_000;
    const app = await launch(
      appEnv(name, appProxy.endpoint, { CREDMESH_APP_INTERVAL_MS: "200", CREDMESH_CLIENT_CACHE_TTL_MS: String(ttlMs), CREDMESH_CLIENT_CACHE_REFRESH_AHEAD_PERCENT: "80" }),
    );
    await untilReads(app, "a first read", (reads) => reads.some((read) => read.read?.versionId === secret.versionId));

    const second = `pw-${randomBytes(18).toString("base64url")}`;
    const rotated = await change({ name, arn: secret.arn }, second);
    const rotatedAt = Date.now();
    // Bounded by the TTL: every read that starts a TTL after the rotation must see it.
    const reads = await untilReads(app, "reads a TTL past the rotation", (all) => all.some((read) => read.startedAt >= rotatedAt + ttlMs + 1_000), 60_000);

    expect(reads.every((read) => read.ok)).toBe(true);
    const late = reads.filter((read) => read.startedAt >= rotatedAt + ttlMs);
    expect(late.length).toBeGreaterThan(0);
    for (const read of late) {
      expect(read.read).toMatchObject({ versionId: rotated.versionId, fingerprint: fingerprint(second), servedBy: { role: "primary" } });
    }
    for (const read of reads) expect(read.read?.fingerprint).toBe(read.read?.versionId === rotated.versionId ? fingerprint(second) : fingerprint(first));
    // Most reads came from the cache; the value was read once per version, the rest were version checks.
    expect(reads.filter((read) => read.read?.source === "cache").length).toBeGreaterThan(reads.length / 2);
    const appCalls = (action: string): number => appProxy.requests.filter((request) => request.action === action).length;
    expect(appCalls("secretsmanager.GetSecretValue")).toBe(2);
    expect(appCalls("secretsmanager.DescribeSecret")).toBeGreaterThanOrEqual(1);
    expect(appCalls("AssumeRoleWithWebIdentity")).toBe(1);
    await app.stop();
  });

  it("keeps reading from the replica when the primary's process is killed, and moves back when it returns", async () => {
    const name = `prod/failover/${randomBytes(4).toString("hex")}`;
    const first = `pw-${randomBytes(18).toString("base64url")}`;
    const secret = await change({ name }, first);
    const last = `pw-${randomBytes(18).toString("base64url")}`;
    const lastVersion = (await change({ name, arn: secret.arn }, last)).versionId;

    const motoPort = Number(new URL(mesh.moto.endpoint).port);
    const app = await launch(
      appEnv(name, mesh.moto.endpoint, {
        CREDMESH_APP_INTERVAL_MS: "100",
        // No cache: every read asks a cloud, so every read goes through the breaker.
        CREDMESH_CLIENT_CACHE_TTL_MS: "0",
        CREDMESH_CLIENT_DEADLINE_MS: "5000",
        CREDMESH_CLIENT_ATTEMPT_TIMEOUT_MS: "2000",
        CREDMESH_CLIENT_BREAKER_FAILURES: "3",
        CREDMESH_CLIENT_BREAKER_HALF_OPEN_AFTER_MS: "2000",
      }),
    );
    await untilReads(app, "five reads through the primary", (reads) => reads.filter((read) => served(read) === "primary").length >= 5);

    const killedAt = Date.now();
    await mesh.moto.process?.kill();
    const during = await untilReads(app, "twenty reads after the kill", (reads) => reads.filter((read) => read.startedAt > killedAt).length >= 20);
    const afterKill = during.filter((read) => read.startedAt > killedAt);
    expect(afterKill.filter((read) => !read.ok)).toEqual([]);
    for (const read of afterKill) {
      expect(read.read).toMatchObject({
        servedBy: { role: "fallback", cloud: "azure" },
        origin: { cloud: "aws", version: lastVersion, replica: true },
        fingerprint: fingerprint(last),
      });
      expect(read.durationMs).toBeLessThanOrEqual(5_000);
    }
    expect(afterKill.map((read) => read.read?.failover?.reason)).toContain("network");
    expect(afterKill.some((read) => read.read?.failover?.code === "CircuitOpen")).toBe(true);
    // Open, then every halfOpenAfter a sample read tries the dead primary and re-opens it; never closed.
    const whileDown = appEvents(app).filter((event) => event.type === "breaker" && event.role === "primary").map((event) => event.state);
    expect(whileDown[0]).toBe("open");
    expect(whileDown.every((state) => state === "open" || state === "half-open")).toBe(true);

    // AWS comes back where the app expects it, holding what it held (moto's memory starts empty:
    // the secret is restored under its last version id).
    revivedMoto = await startMoto({ port: motoPort });
    const revived = new SecretsManagerClient({ region: AWS_REGION, endpoint: revivedMoto.endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
    await revived.send(new CreateSecretCommand({ Name: name, SecretString: last, ClientRequestToken: lastVersion }));
    revived.destroy();
    const revivedAt = Date.now();
    const back = await untilReads(app, "reads back on the primary", (reads) => reads.filter((read) => read.startedAt > revivedAt && served(read) === "primary").length >= 5);

    expect(back.filter((read) => !read.ok)).toEqual([]);
    const firstBack = back.findIndex((read) => read.startedAt > revivedAt && served(read) === "primary");
    for (const read of back.slice(firstBack)) expect(read.read).toMatchObject({ servedBy: { role: "primary" }, versionId: lastVersion, fingerprint: fingerprint(last) });
    const states = appEvents(app).filter((event) => event.type === "breaker" && event.role === "primary").map((event) => event.state);
    expect(states.slice(whileDown.length)).toContain("closed");
    expect(states.slice(-2)).toEqual(["half-open", "closed"]);
    expect(appReads(app).filter((read) => !read.ok)).toEqual([]);
    await app.stop();
  });
});
