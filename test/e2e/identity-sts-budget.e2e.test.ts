import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parsePrometheusText, valueOf, type Scrape } from "../integration/support/prometheus-text.ts";
import { BusTap } from "../support/bus-tap.ts";
import { cloudTrailEvent, type SecretRef } from "../support/eventbridge.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../support/mesh.ts";

/**
 * SPEC section 3, "STS is called about once per credential lifetime, never once per event", with
 * the whole mesh: real processes, moto's STS behind the recording proxy that counts every call.
 * The replicator-azure cell reads AWS with credentials from STS AssumeRoleWithWebIdentity, fed by
 * its managed identity's token (the default one-element chain `azure-managed-identity`).
 */

/** Runs `work` over `items` with at most `limit` in flight. */
async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let index = next++; index < items.length; index = next++) results[index] = await work(items[index] as T, index);
    }),
  );
  return results;
}

/** The mesh plus what these tests do with it: create secrets in AWS, announce them, await the audit trail. */
function harness(mesh: Mesh, tap: BusTap) {
  const createSecrets = (prefix: string, count: number): Promise<SecretRef[]> =>
    inParallel(Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(4, "0")}`), 32, async (name) => {
      const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: `value-of-${name}` }));
      return { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION, versionId: created.VersionId ?? "" };
    });
  const announce = async (secret: SecretRef & { versionId?: string }): Promise<string> => {
    const event = cloudTrailEvent("aws-cloudtrail-createsecret.json", secret, { versionId: secret.versionId ?? "" });
    const response = await fetch(`${mesh.ingestUrl}/webhooks/eventbridge`, {
      method: "POST",
      headers: { "content-type": "application/json", [mesh.apiKeyHeader]: mesh.apiKey },
      body: JSON.stringify(event),
    });
    expect(response.status).toBe(202);
    await response.body?.cancel();
    return event.id as string;
  };
  const decisions = async (ids: readonly string[]): Promise<Record<string, number>> => {
    const records = await Promise.all(ids.map((id) => tap.auditFor(id, 90_000)));
    const counts: Record<string, number> = {};
    for (const record of records) counts[record.decision] = (counts[record.decision] ?? 0) + 1;
    return counts;
  };
  const scrape = async (): Promise<Scrape> => parsePrometheusText(await (await fetch(`${mesh.replicatorOpsUrl}/metrics`)).text());
  const total = (metrics: Scrape, name: string, match: (labels: Record<string, string>) => boolean = () => true): number =>
    metrics.filter((s) => s.name === name && match(s.labels)).reduce((sum, s) => sum + s.value, 0);
  return { createSecrets, announce, decisions, scrape, total };
}

describe("STS calls per replicated mutation", () => {
  let mesh: Mesh;
  let tap: BusTap;

  beforeAll(async () => {
    // Rate limits off: this test measures STS calls, not Key Vault's create quota (1,000 creates
    // would take 40 s at the default 250 per 10 s).
    mesh = await startMesh({ namePrefixes: ["load/"], replicatorEnv: { CREDMESH_RATE_LIMIT: "false", CREDMESH_LOG_LEVEL: "info" } });
    tap = new BusTap(mesh.bus);
  }, 120_000);
  afterEach((context) => {
    if (context.task.result?.state === "fail") console.error(`--- replicator ---\n${mesh.replicator.tail(30)}`);
  });
  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  it("replicates 1,000 mutations with a handful of STS calls (one per credential lifetime)", async () => {
    const { createSecrets, announce, decisions, scrape, total } = harness(mesh, tap);
    const secrets = await createSecrets("load/app-", 1_000);
    const started = Date.now();
    const ids = await inParallel(secrets, 32, announce);
    const postedMs = Date.now() - started;
    expect(await decisions(ids)).toEqual({ applied: 1_000 });
    const elapsedMs = Date.now() - started;

    const assumed = mesh.awsProxy.count("AssumeRoleWithWebIdentity");
    const sourceReads = mesh.awsProxy.count("GetSecretValue");
    console.info(`[sts-budget] 1,000 mutations posted in ${postedMs} ms, applied in ${elapsedMs} ms: ${sourceReads} GetSecretValue, ${assumed} AssumeRoleWithWebIdentity`);
    expect(sourceReads).toBeGreaterThanOrEqual(1_000);
    // One 1-hour session covers the whole run; "a handful" leaves room for nothing else.
    expect(assumed).toBe(1);
    const metrics = await scrape();
    expect(valueOf(metrics, "credmesh_credential_refreshes_total", { source: "aws/azure-managed-identity", outcome: "success" })).toBe(1);
    expect(total(metrics, "credmesh_credential_refreshes_total", (l) => l["outcome"] !== "success")).toBe(0);
    expect(total(metrics, "credmesh_dead_letters_total")).toBe(0);
  }, 240_000);
});

describe("credentials that expire mid-run", () => {
  let mesh: Mesh;
  let tap: BusTap;
  const LIFETIME_SECONDS = 4;

  beforeAll(async () => {
    mesh = await startMesh({ namePrefixes: ["short/"], replicatorEnv: { CREDMESH_RATE_LIMIT: "false", CREDMESH_LOG_LEVEL: "info" } });
    tap = new BusTap(mesh.bus);
  }, 120_000);
  afterEach((context) => {
    if (context.task.result?.state === "fail") console.error(`--- replicator ---\n${mesh.replicator.tail(30)}`);
  });
  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  it("refreshes them before they expire, without a single failed call, write or dead letter", async () => {
    const { createSecrets, announce, decisions, scrape, total } = harness(mesh, tap);
    // STS hands out 4-second sessions from now on, and AWS (the proxy) refuses requests signed with
    // an expired one with ExpiredTokenException.
    mesh.awsProxy.limitCredentialLifetime(LIFETIME_SECONDS);
    const secrets = await createSecrets("short/app-", 300);
    // A steady stream over ~12 s, three lifetimes: 25 events every second.
    const started = Date.now();
    const ids: string[] = [];
    for (let second = 0; second < 12; second += 1) {
      ids.push(...(await inParallel(secrets.slice(second * 25, second * 25 + 25), 25, announce)));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + (second + 1) * 1_000 - Date.now())));
    }
    expect(await decisions(ids)).toEqual({ applied: 300 });
    const elapsedMs = Date.now() - started;

    const assumed = mesh.awsProxy.requests.filter((r) => r.action === "AssumeRoleWithWebIdentity");
    const metrics = await scrape();
    const refreshes = valueOf(metrics, "credmesh_credential_refreshes_total", { source: "aws/azure-managed-identity", outcome: "success" });
    console.info(
      `[sts-budget] 300 mutations over ${elapsedMs} ms with ${LIFETIME_SECONDS} s credentials: ${assumed.length} AssumeRoleWithWebIdentity, ` +
        `${refreshes} refreshes, ${mesh.awsProxy.expiredRefusals()} requests refused as expired`,
    );
    // Refreshed several times, each time before expiry (80 % of the lifetime): about one call per lifetime.
    expect(refreshes).toBeGreaterThan(1);
    expect(assumed.length).toBe(refreshes);
    expect(assumed.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / (LIFETIME_SECONDS * 800)) + 1);
    expect(assumed.every((r) => r.status === 200)).toBe(true);
    // Not one AWS request was signed with an expired session, so nothing failed and nothing was retried.
    expect(mesh.awsProxy.expiredRefusals()).toBe(0);
    // (Key Vault answers "not found" for each new replica's first lookup; those are not AWS calls.)
    expect(total(metrics, "credmesh_cloud_api_calls_total", (l) => l["cloud"] === "aws" && l["outcome"] !== "success")).toBe(0);
    expect(total(metrics, "credmesh_cloud_api_calls_total", (l) => l["cloud"] === "aws" && l["outcome"] === "success")).toBeGreaterThanOrEqual(300);
    expect(total(metrics, "credmesh_replication_failures_total")).toBe(0);
    expect(total(metrics, "credmesh_dead_letters_total")).toBe(0);
    expect(tap.messages.filter((m) => m.subject.startsWith("credmesh.dlq."))).toEqual([]);
    // Every session was used, and each was replaced before it expired.
    const sessions = new Set(mesh.awsProxy.requests.filter((r) => r.action.endsWith("GetSecretValue")).map((r) => r.accessKeyId));
    expect(sessions.size).toBeGreaterThan(1);
  }, 180_000);
});
