import { randomBytes } from "node:crypto";
import { CreateSecretCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BusTap } from "../support/bus-tap.ts";
import { cloudTrailEvent, labelUpdatedEvent, type SecretRef } from "../support/eventbridge.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";

/**
 * The first replication path, end to end (issue: foundation): a secret created in AWS (moto) and
 * announced by its EventBridge event appears in Azure Key Vault with provenance, through ingest,
 * JetStream and the replicator, each a real process on a real socket.
 */
describe("AWS Secrets Manager → Azure Key Vault", () => {
  let mesh: Mesh;
  let tap: BusTap;
  /** Every secret value this test writes; none may ever show up on the bus or in a log. */
  const values: string[] = [];
  const newValue = (): string => {
    const value = `pw-${randomBytes(18).toString("base64url")}`;
    values.push(value);
    return value;
  };

  beforeAll(async () => {
    mesh = await startMesh({ namePrefixes: ["prod/", "prod-"] });
    tap = new BusTap(mesh.bus);
  }, 120_000);

  afterEach((context) => {
    // On failure, show what the services said: the fastest way to a cause in CI.
    if (context.task.result?.state === "fail") {
      console.error(`--- ingest ---\n${mesh.ingest.tail(15)}\n--- replicator ---\n${mesh.replicator.tail(25)}`);
    }
  });

  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  const post = async (body: unknown, headers: Record<string, string> = { [mesh.apiKeyHeader]: mesh.apiKey }) => {
    const response = await fetch(`${mesh.ingestUrl}/webhooks/eventbridge`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", "user-agent": "Amazon/EventBridge/ApiDestinations", ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  const createSecret = async (name: string): Promise<SecretRef & { versionId: string; value: string }> => {
    const value = newValue();
    const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    return { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION, versionId: created.VersionId ?? "", value };
  };

  const streamMessages = async (): Promise<number> => {
    const jsm = await jetstreamManager(mesh.bus);
    return (await jsm.streams.info("CREDMESH_MUTATIONS")).state.messages;
  };

  const keyVaultVersions = async (name: string): Promise<number> => {
    let count = 0;
    for await (const _version of mesh.keyVaultClient.listPropertiesOfSecretVersions(name)) count++;
    return count;
  };

  it("replicates a created secret with provenance tags, then a new value", async () => {
    const secret = await createSecret("prod/payments/db-password");
    const create = cloudTrailEvent("aws-cloudtrail-createsecret.json", secret, { versionId: secret.versionId });
    const accepted = await post(create);
    expect(accepted).toEqual({ status: 202, body: { status: "accepted", id: create.id, duplicate: false } });
    expect((await tap.auditFor(create.id as string)).decision).toBe("applied");

    // "/" is not valid in Key Vault names: the documented mapping replaces it and adds a hash.
    const replicaName = "prod-payments-db-password-h" + (await import("node:crypto")).createHash("sha256").update(secret.name).digest("hex").slice(0, 10);
    const replica = await mesh.keyVaultClient.getSecret(replicaName);
    expect(replica.value).toBe(secret.value);
    expect(replica.properties.tags).toMatchObject({
      "managed-by": "credmesh",
      "credmesh-origin": "aws",
      "credmesh-origin-account": AWS_ACCOUNT,
      "credmesh-origin-region": AWS_REGION,
      "credmesh-origin-name": secret.name,
      "credmesh-origin-id": secret.arn,
      "credmesh-origin-version": secret.versionId,
      "credmesh-rule": mesh.ruleId,
    });
    expect(replica.properties.tags?.["credmesh-content-hash"]).toMatch(/^[0-9a-f]{64}$/);

    const next = newValue();
    const put = await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: secret.arn, SecretString: next }));
    const putEvent = cloudTrailEvent("aws-cloudtrail-putsecretvalue.json", secret, { versionId: put.VersionId ?? "" });
    expect((await post(putEvent)).status).toBe(202);
    expect((await tap.auditFor(putEvent.id as string)).decision).toBe("applied");
    const updated = await mesh.keyVaultClient.getSecret(replicaName);
    expect(updated.value).toBe(next);
    expect(updated.properties.tags?.["credmesh-origin-version"]).toBe(put.VersionId);
    expect(updated.properties.tags?.["credmesh-content-hash"]).not.toBe(replica.properties.tags?.["credmesh-content-hash"]);
  });

  it("writes exactly one destination version when the same event is delivered five times", async () => {
    const secret = await createSecret("prod/api/key-dup");
    // Seed the replica with the first version, so the count below starts from a known state.
    const seed = cloudTrailEvent("aws-cloudtrail-createsecret.json", secret, { versionId: secret.versionId });
    expect((await post(seed)).status).toBe(202);
    const replica = (await tap.auditFor(seed.id as string)).destination as { name: string };
    const before = await keyVaultVersions(replica.name);

    const value = newValue();
    const put = await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: secret.arn, SecretString: value }));
    const event = cloudTrailEvent("aws-cloudtrail-putsecretvalue.json", secret, { versionId: put.VersionId ?? "" });
    const responses = [];
    for (let delivery = 0; delivery < 5; delivery++) responses.push(await post(event));
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    expect(responses.map((r) => r.body.duplicate)).toEqual([false, true, true, true, true]);
    expect((await tap.auditFor(event.id as string)).decision).toBe("applied");

    // A different event announcing the same version (the native label event) is deduplicated
    // by the replica's origin-version tag instead of by message id.
    const label = labelUpdatedEvent(secret, put.VersionId ?? "");
    expect((await post(label)).status).toBe(202);
    expect((await tap.auditFor(label.id as string)).decision).toBe("skipped_duplicate");

    expect(await keyVaultVersions(replica.name)).toBe(before + 1);
    expect(tap.auditRecords().filter((record) => record.eventId === event.id)).toHaveLength(1);
    expect((await mesh.keyVaultClient.getSecret(replica.name)).value).toBe(value);
  });

  it("refuses an unauthenticated delivery with 401 and changes nothing", async () => {
    const secret = await createSecret("prod/unauth/secret");
    const event = cloudTrailEvent("aws-cloudtrail-createsecret.json", secret, { versionId: secret.versionId });
    const before = await streamMessages();
    const missing = await post(event, {});
    const wrong = await post(event, { [mesh.apiKeyHeader]: "not-the-key" });
    const basic = await post(event, { authorization: `Basic ${Buffer.from("user:guess").toString("base64")}` });
    for (const response of [missing, wrong, basic]) {
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ error: { code: "unauthorized" } });
    }
    expect(await streamMessages()).toBe(before);
    await expect(mesh.keyVaultClient.getSecret("prod-unauth-secret-x")).rejects.toMatchObject({ statusCode: 404 });
  });

  it("answers 422 for a secret outside every rule and changes nothing", async () => {
    const secret = await createSecret("staging/out-of-scope");
    const event = cloudTrailEvent("aws-cloudtrail-createsecret.json", secret, { versionId: secret.versionId });
    const before = await streamMessages();
    const response = await post(event);
    expect(response).toMatchObject({ status: 422, body: { error: { code: "out_of_scope" } } });
    expect(await streamMessages()).toBe(before);
    const names: string[] = [];
    for await (const properties of mesh.keyVaultClient.listPropertiesOfSecrets()) names.push(properties.name);
    expect(names.some((name) => name.startsWith("staging"))).toBe(false);
  });

  it("calls STS once for many events (credentials are cached)", async () => {
    const secret = await createSecret("prod/many/events");
    const ids: string[] = [];
    for (let round = 0; round < 10; round++) {
      const put = await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: secret.arn, SecretString: newValue() }));
      const event = cloudTrailEvent("aws-cloudtrail-putsecretvalue.json", secret, { versionId: put.VersionId ?? "" });
      expect((await post(event)).status).toBe(202);
      ids.push(event.id as string);
    }
    for (const id of ids) await tap.auditFor(id);
    const sourceReads = mesh.awsProxy.count("GetSecretValue");
    expect(sourceReads).toBeGreaterThanOrEqual(10);
    // Every mutation of this whole suite ran under one assumed-role session.
    expect(mesh.awsProxy.count("AssumeRoleWithWebIdentity")).toBe(1);
  });

  it("dead-letters a write it must refuse, with a sanitized reason, and leaves the destination alone", async () => {
    // Someone else's secret already holds the mapped Key Vault name: credmesh must not touch it.
    const foreign = newValue();
    await mesh.keyVaultClient.setSecret("prod-owned-elsewhere", foreign, { tags: { owner: "payments-team" } });
    const secret = await createSecret("prod-owned-elsewhere");
    const event = cloudTrailEvent("aws-cloudtrail-createsecret.json", secret, { versionId: secret.versionId });
    expect((await post(event)).status).toBe(202);

    const dead = await tap.waitFor((m) => m.subject === "credmesh.dlq.azure" && m.data.includes(event.id as string));
    const record = JSON.parse(dead.data) as { error: Record<string, unknown>; event: { id: string }; deliveries: number };
    expect(record.error).toEqual({
      reason: "unmanaged_destination",
      retryable: false,
      message: "Key Vault secret prod-owned-elsewhere exists and is not managed by credmesh",
    });
    expect(record.event.id).toBe(event.id);
    expect(record.deliveries).toBe(1);
    expect((await tap.auditFor(event.id as string)).decision).toBe("dead_lettered");
    const untouched = await mesh.keyVaultClient.getSecret("prod-owned-elsewhere");
    expect(untouched.value).toBe(foreign);
    expect(untouched.properties.tags).toEqual({ owner: "payments-team" });
  });

  it("never puts a secret value on the bus, in a log line or in metrics", async () => {
    expect(values.length).toBeGreaterThan(10);
    expect(tap.messages.length).toBeGreaterThan(0);
    const metrics = await Promise.all(
      [`${mesh.ingestUrl}/metrics`, `${mesh.replicatorOpsUrl}/metrics`].map(async (url) => (await fetch(url)).text()),
    );
    const haystacks = [
      ...tap.messages.map((m) => `${m.subject}\n${m.headers}\n${m.data}`),
      ...mesh.ingest.lines,
      ...mesh.replicator.lines,
      ...metrics,
    ];
    for (const value of values) {
      const encodings = [value, Buffer.from(value).toString("base64"), Buffer.from(value).toString("hex")];
      for (const encoded of encodings) {
        expect(haystacks.filter((text) => text.includes(encoded))).toEqual([]);
      }
    }
  });
});
