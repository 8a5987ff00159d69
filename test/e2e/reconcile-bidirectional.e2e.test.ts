import { randomBytes } from "node:crypto";
import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BusTap } from "../support/bus-tap.ts";
import { cloudCallWindow } from "../support/cloud-calls.ts";
import { startMesh, type Mesh } from "../support/mesh.ts";

const VAULT = "credmesh-e2e";

interface Finding {
  action: string;
  reason: string;
  status: string;
  source?: { cloud: string; name: string };
  destination: { vault: string; name: string };
  eventId?: string;
}
interface Report {
  counts: Record<string, number>;
  actions: Finding[];
  errors: unknown[];
}

/**
 * Anti-entropy in both directions (issue 4, items 1 and 5): Key Vault emits no delete event, so a
 * secret deleted in Key Vault reaches its AWS replica only through the replicator-aws cell's
 * reconcile; and in a pair replicated both ways, a Key Vault replica deleted by hand is recovered
 * from its AWS original, while the reverse direction leaves the original alone.
 */
describe("anti-entropy with both directions", () => {
  let mesh: Mesh;
  let tap: BusTap;
  const suffix = randomBytes(3).toString("hex");

  beforeAll(async () => {
    mesh = await startMesh({
      namePrefixes: ["prod-pair-"],
      azureToAws: { vaultName: VAULT, namePrefixes: ["app-", "prod-pair-"] },
      replicatorEnv: { CREDMESH_RECONCILE_INTERVAL_SECONDS: "0" },
    });
    tap = new BusTap(mesh.bus, "credmesh.audit.>");
  }, 180_000);

  afterEach((context) => {
    if (context.task.result?.state === "fail") {
      console.error(`--- replicator-azure ---\n${mesh.replicator.tail(20)}\n--- replicator-aws ---\n${mesh.replicatorAws?.tail(20)}`);
    }
  });

  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  const reconcile = async (destination: "aws" | "azure"): Promise<Report> => {
    const reply = await mesh.bus.request(`credmesh.control.reconcile.${destination}`, "{}", { timeout: 60_000 });
    const body = JSON.parse(new TextDecoder().decode(reply.data)) as Report | { error: unknown };
    if ("error" in body) throw new Error(`reconcile ${destination} refused: ${JSON.stringify(body.error)}`);
    expect(body.errors).toEqual([]);
    return body;
  };

  const settled = async (destination: string, eventId: string): Promise<{ decision: string }> => {
    const message = await tap.waitFor(
      (m) => m.subject.startsWith(`credmesh.audit.${destination}.`) && !m.subject.endsWith(".reconciled") && (JSON.parse(m.data) as { eventId?: string }).eventId === eventId,
    );
    return JSON.parse(message.data) as { decision: string };
  };

  const corrective = (report: Report, name: string): Finding | undefined =>
    report.actions.find((finding) => (finding.action === "sync" || finding.action === "delete") && finding.source?.name.toLowerCase() === name.toLowerCase());

  it("propagates a secret deleted in Key Vault to its AWS replica", async () => {
    const name = `app-token-${suffix}`;
    const value = `t-${randomBytes(12).toString("hex")}`;
    await mesh.keyVaultClient.setSecret(name, value);

    // No Event Grid delivery at all: the replicator-aws cell's reconcile finds the new secret...
    const first = await reconcile("aws");
    const sync = corrective(first, name);
    expect(sync).toMatchObject({ action: "sync", reason: "missing", status: "published", destination: { name } });
    expect((await settled("aws", sync!.eventId!)).decision).toBe("applied");
    expect((await mesh.secretsManager.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(value);

    // ... and its deletion, which Key Vault never announces.
    await (await mesh.keyVaultClient.beginDeleteSecret(name, { intervalInMs: 50 })).pollUntilDone();
    const second = await reconcile("aws");
    const removal = corrective(second, name);
    expect(removal).toMatchObject({ action: "delete", reason: "source_deleted", status: "published" });
    expect((await settled("aws", removal!.eventId!)).decision).toBe("deleted");
    expect((await mesh.secretsManager.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate).toBeInstanceOf(Date);
    expect(corrective(await reconcile("aws"), name)).toBeUndefined();
  });

  it("recovers a Key Vault replica deleted by hand from its AWS original, and the reverse direction leaves the original alone", async () => {
    const name = `prod-pair-db-${suffix}`;
    const value = `pw-${randomBytes(12).toString("hex")}`;
    await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    const created = corrective(await reconcile("azure"), name);
    expect((await settled("azure", created!.eventId!)).decision).toBe("applied");
    // The Key Vault replica is credmesh's copy: the reverse direction sees an echo, not a change.
    expect(corrective(await reconcile("aws"), name)).toBeUndefined();

    await (await mesh.keyVaultClient.beginDeleteSecret(name, { intervalInMs: 50 })).pollUntilDone();
    // Deleting a copy never deletes the original.
    expect(corrective(await reconcile("aws"), name)).toBeUndefined();
    const healed = corrective(await reconcile("azure"), name);
    expect(healed).toMatchObject({ action: "sync", reason: "replica_deleted", status: "published" });
    await settled("azure", healed!.eventId!);
    expect((await mesh.keyVaultClient.getSecret(name)).value).toBe(value);
    expect((await mesh.secretsManager.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate).toBeUndefined();
    for (const destination of ["azure", "aws"] as const) expect(corrective(await reconcile(destination), name)).toBeUndefined();
  });

  it("keeps the source versions its runs proved on the bus: a restarted replicator reads no version list proved before", async () => {
    const proved = [1, 2, 3].map((n) => `app-proved-${n}-${suffix}`);
    for (const name of proved) await mesh.keyVaultClient.setSecret(name, `v-${randomBytes(8).toString("hex")}`);
    // A proof needs a versions read made after the vault's clock left the version's second: the
    // listing shows it has once a later secret exists.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const newest = `app-proved-newest-${suffix}`;
    const newestCreated = (await mesh.keyVaultClient.setSecret(newest, `v-${randomBytes(8).toString("hex")}`)).properties.createdOn;
    if (!newestCreated) throw new Error("Key Vault did not date the newest secret");

    const report = await reconcile("aws");
    for (const name of [...proved, newest]) expect((await settled("aws", corrective(report, name)!.eventId!)).decision).toBe("applied");

    const [replicatorAws] = mesh.replicatorsAws;
    if (!replicatorAws) throw new Error("no replicator for destination AWS");
    await mesh.restart(replicatorAws);
    const afterRestart = cloudCallWindow(mesh);
    const converged = await reconcile("aws");
    for (const name of [...proved, newest]) expect(corrective(converged, name)).toBeUndefined();
    // The newest was read within its second, so it is read again; the three before it were proved,
    // and the restarted process finds their proofs on the bus (in memory only, it read all four).
    // Key Vault may serve a listing's first page empty (the emulator does, as the service can): a
    // one-version secret's version listing is two requests.
    expect(afterRestart.calls().azure.GetSecretVersions).toBe(2 * 1);

    // Once the vault says (HTTP Date of its listing, less a 5 s allowance) that its clock left the
    // newest version's second, a run proves that one too, and the next reads no version list at all
    // — without waiting for this host's clock less 10 minutes.
    const provable = newestCreated.getTime() + 1_000 + 5_000 + 1_000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, provable - Date.now())));
    await reconcile("aws");
    const settledRun = cloudCallWindow(mesh);
    expect((await reconcile("aws")).actions.filter((finding) => finding.source?.name.startsWith("app-proved-"))).toEqual([]);
    expect(settledRun.calls().azure.GetSecretVersions ?? 0).toBe(0);
  });
});

