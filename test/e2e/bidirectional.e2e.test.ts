import { randomBytes, randomUUID } from "node:crypto";
import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { readFixture } from "../support/fixtures.ts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BusTap } from "../support/bus-tap.ts";
import { cloudTrailEvent, type SecretRef } from "../support/eventbridge.ts";
import { postEventGrid as postDelivery, secretNewVersionCreated } from "../support/eventgrid.ts";
import { AWS_ACCOUNT, AWS_CELL_SESSION_ARN, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";

const VAULT = "credmesh-e2e";
const SECRETS = 20;

/**
 * Both directions at once (issue 3): 20 secrets, half born in AWS and half in Azure, each changed
 * several times on alternating sides while both replicators run. The test plays the clouds' event
 * sources faithfully: every write — a person's or credmesh's own — is announced by its real event
 * shape (CloudTrail via EventBridge, Key Vault via Event Grid), so echoes are really offered to
 * credmesh and must be refused.
 */
describe("bidirectional replication", () => {
  let mesh: Mesh;
  let tap: BusTap;
  const eventGridKey = randomBytes(24).toString("base64url");
  const values: string[] = [];
  const newValue = (): string => {
    const value = `v-${randomBytes(16).toString("base64url")}`;
    values.push(value);
    return value;
  };

  beforeAll(async () => {
    mesh = await startMesh({
      namePrefixes: ["prod/bidi/", "app-"],
      azureToAws: { vaultName: VAULT, namePrefixes: ["app-", "prod-bidi-"] },
      ingestEnv: { CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS: eventGridKey },
    });
    tap = new BusTap(mesh.bus);
  }, 180_000);

  afterEach((context) => {
    if (context.task.result?.state === "fail") {
      console.error(`--- replicator-azure ---\n${mesh.replicator.tail(15)}\n--- replicator-aws ---\n${mesh.replicatorAws?.tail(15)}`);
    }
  });

  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  const postEventBridge = async (event: Record<string, unknown>): Promise<void> => {
    const response = await fetch(`${mesh.ingestUrl}/webhooks/eventbridge`, {
      method: "POST",
      headers: { "content-type": "application/json", [mesh.apiKeyHeader]: mesh.apiKey },
      body: JSON.stringify(event),
    });
    expect(response.status).toBe(202);
    await response.body?.cancel();
  };

  const postEventGrid = (events: Record<string, unknown>[]): Promise<void> => postDelivery(mesh.ingestUrl, eventGridKey, events);

  const awsRef = async (name: string): Promise<SecretRef> => {
    const described = await mesh.secretsManager.send(new DescribeSecretCommand({ SecretId: name }));
    return { arn: described.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION };
  };

  /** A person changes the AWS side; EventBridge delivers the CloudTrail record. */
  const changeAws = async (name: string, create: boolean): Promise<{ eventId: string; value: string }> => {
    const value = newValue();
    const result = create
      ? await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }))
      : await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
    const event = cloudTrailEvent(create ? "aws-cloudtrail-createsecret.json" : "aws-cloudtrail-putsecretvalue.json", await awsRef(name), {
      versionId: result.VersionId ?? "",
    });
    await postEventBridge(event);
    return { eventId: event.id as string, value };
  };

  /** A person changes the Azure side; Event Grid delivers SecretNewVersionCreated. */
  const changeAzure = async (name: string): Promise<{ eventId: string; value: string }> => {
    const value = newValue();
    const written = await mesh.keyVaultClient.setSecret(name, value);
    const [event] = secretNewVersionCreated(VAULT, name, written.properties.version ?? "");
    await postEventGrid([event as Record<string, unknown>]);
    return { eventId: String(event?.id), value };
  };

  /**
   * Waits for credmesh to apply a change, then announces credmesh's own write the way the
   * destination cloud would, and checks that credmesh refuses to echo it back.
   */
  const replicated = async (eventId: string): Promise<void> => {
    const audit = await tap.auditFor(eventId);
    expect(audit.decision, `decision for ${eventId}`).toBe("applied");
    const destination = audit.destination as { cloud: string; name: string; versionId: string };
    const echoId = randomUUID();
    if (destination.cloud === "azure") {
      await postEventGrid(secretNewVersionCreated(VAULT, destination.name, destination.versionId, echoId));
    } else {
      const echo = cloudTrailEvent("aws-cloudtrail-putsecretvalue.json", await awsRef(destination.name), { versionId: destination.versionId, id: echoId });
      (((echo.detail as Record<string, unknown>).userIdentity as Record<string, unknown>).arn = AWS_CELL_SESSION_ARN);
      await postEventBridge(echo);
    }
    expect((await tap.auditFor(echoId)).decision, "credmesh's own write announced back").toBe("skipped_echo");
  };

  const awsValue = async (name: string): Promise<string | undefined> =>
    (await mesh.secretsManager.send(new GetSecretValueCommand({ SecretId: name }))).SecretString;
  const azureValue = async (name: string): Promise<string | undefined> => (await mesh.keyVaultClient.getSecret(name)).value;

  it("converges 20 secrets changed on alternating sides, with one write per real change and no echo", async () => {
    const realChanges = { toAzure: 0, toAws: 0 };
    const finals = await Promise.all(
      Array.from({ length: SECRETS }, async (_unused, index) => {
        if (index % 2 === 0) {
          // Born in AWS; its replica in Key Vault gets the documented mapped name.
          const awsName = `prod/bidi/s${index}`;
          const created = await changeAws(awsName, true);
          realChanges.toAzure++;
          await replicated(created.eventId);
          const kvName = ((await tap.auditFor(created.eventId)).destination as { name: string }).name;
          let last = created.value;
          for (let round = 0; round < 3; round++) {
            const change = round % 2 === 0 ? await changeAzure(kvName) : await changeAws(awsName, false);
            if (round % 2 === 0) realChanges.toAws++;
            else realChanges.toAzure++;
            await replicated(change.eventId);
            last = change.value;
          }
          return { awsName, kvName, last };
        }
        // Born in Azure; its replica in AWS keeps the Key Vault name.
        const kvName = `app-s${index}`;
        const created = await changeAzure(kvName);
        realChanges.toAws++;
        await replicated(created.eventId);
        let last = created.value;
        for (let round = 0; round < 3; round++) {
          const change = round % 2 === 0 ? await changeAws(kvName, false) : await changeAzure(kvName);
          if (round % 2 === 0) realChanges.toAzure++;
          else realChanges.toAws++;
          await replicated(change.eventId);
          last = change.value;
        }
        return { awsName: kvName, kvName, last };
      }),
    );

    for (const secret of finals) {
      expect(await awsValue(secret.awsName)).toBe(secret.last);
      expect(await azureValue(secret.kvName)).toBe(secret.last);
    }
    const audits = tap.auditRecords();
    const applied = (cloud: string) => audits.filter((a) => a.decision === "applied" && (a.destination as { cloud: string }).cloud === cloud).length;
    expect({ toAzure: applied("azure"), toAws: applied("aws") }).toEqual(realChanges);
    expect(realChanges).toEqual({ toAzure: 40, toAws: 40 });
    expect(audits.filter((a) => a.decision === "skipped_echo")).toHaveLength(80);
  });

  it("settles a change made on both sides before either replicated: the later change wins, AWS on a tie", async () => {
    const awsName = "prod/bidi/conflict";
    const created = await changeAws(awsName, true);
    await replicated(created.eventId);
    const kvName = ((await tap.auditFor(created.eventId)).destination as { name: string }).name;

    // Key Vault first, then AWS — neither event delivered yet.
    const azureValueWritten = newValue();
    const azureVersion = (await mesh.keyVaultClient.setSecret(kvName, azureValueWritten)).properties.version ?? "";
    const awsValueWritten = newValue();
    const put = await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: awsName, SecretString: awsValueWritten }));

    const [azureEvent] = secretNewVersionCreated(VAULT, kvName, azureVersion);
    const awsEvent = cloudTrailEvent("aws-cloudtrail-putsecretvalue.json", await awsRef(awsName), { versionId: put.VersionId ?? "" });
    await Promise.all([postEventGrid([azureEvent as Record<string, unknown>]), postEventBridge(awsEvent)]);

    expect((await tap.auditFor(String(azureEvent?.id))).decision).toBe("skipped_conflict");
    await replicated(awsEvent.id as string);
    expect(await awsValue(awsName)).toBe(awsValueWritten);
    expect(await azureValue(kvName)).toBe(awsValueWritten);
  });

  it("replicates a Key Vault version announced as a CloudEvents 1.0 delivery into Secrets Manager, with provenance", async () => {
    const value = newValue();
    const written = await mesh.keyVaultClient.setSecret("app-cloudevents", value);
    const version = written.properties.version ?? "";
    const event = structuredClone(readFixture<Record<string, unknown>>("azure-cloudevents-secretnewversioncreated.json"));
    event.id = randomUUID();
    event.source = String(event.source).replace(/vaults\/[^/]+$/, `vaults/${VAULT}`);
    event.subject = "app-cloudevents";
    event.time = new Date().toISOString();
    event.data = {
      Id: `https://${VAULT}.vault.azure.net/secrets/app-cloudevents/${version}`,
      VaultName: VAULT,
      ObjectType: "Secret",
      ObjectName: "app-cloudevents",
      Version: version,
      NBF: null,
      EXP: null,
    };
    const response = await fetch(`${mesh.ingestUrl}/webhooks/eventgrid`, {
      method: "POST",
      headers: { "content-type": "application/cloudevents+json; charset=utf-8", authorization: `Bearer ${eventGridKey}` },
      body: JSON.stringify(event),
    });
    expect(response.status).toBe(200);
    await replicated(event.id as string);

    const described = await mesh.secretsManager.send(new DescribeSecretCommand({ SecretId: "app-cloudevents" }));
    expect(Object.fromEntries((described.Tags ?? []).map((tag) => [tag.Key, tag.Value]))).toMatchObject({
      "managed-by": "credmesh",
      "credmesh-origin": "azure",
      "credmesh-origin-vault": VAULT,
      "credmesh-origin-name": "app-cloudevents",
      "credmesh-rule": "azure-to-aws",
    });
    const replica = await mesh.secretsManager.send(new GetSecretValueCommand({ SecretId: "app-cloudevents" }));
    expect(replica.SecretString).toBe(value);
    // Secrets Manager keeps tags per secret: what this version copies is in its own id, credmesh's
    // write stamp (the ClientRequestToken): Key Vault origin, creation second, mutation, Key Vault version.
    expect(replica.VersionId).toMatch(new RegExp(`^cm1-z-[0-9a-f]{8}-[0-9a-f]{16}-${version}$`));
  });

  it("never puts a secret value on the bus or in the services' logs", () => {
    const haystacks = [
      ...tap.messages.map((m) => `${m.subject}\n${m.headers}\n${m.data}`),
      ...mesh.ingest.lines,
      ...mesh.replicator.lines,
      ...(mesh.replicatorAws?.lines ?? []),
    ];
    for (const value of values) expect(haystacks.filter((text) => text.includes(value))).toEqual([]);
  });
});
