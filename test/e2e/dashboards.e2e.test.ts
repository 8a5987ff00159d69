import { randomBytes, randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { toKeyVaultName } from "@credmesh/replicas";
import { LOCAL_API_KEY_HEADER, LOCAL_AWS_ACCOUNT, LOCAL_AWS_REGION, LOCAL_REPLICATOR_ROLE_ARN, loadTools, startLocalMesh, type LocalMesh } from "@credmesh/local-mesh";
import { connectionOptions } from "@credmesh/bus";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPki, type Issued, type Pki } from "../emulators/roles-anywhere/pki.ts";
import { BusTap } from "../support/bus-tap.ts";
import { runCredmesh } from "../support/credmesh-cli.ts";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { certificateNewVersionCreated, postEventGrid, secretNewVersionCreated } from "../support/eventgrid.ts";
import { keyVaultClientFor } from "../support/keyvault-client.ts";
import { REPO_ROOT } from "../support/services.ts";

const DASHBOARDS = resolve(REPO_ROOT, "deploy", "grafana", "dashboards");
const CELL = "local-azure-1";
const VAULT = "keyvault";
const DAY = 86_400_000;

interface Panel {
  title: string;
  type: string;
  targets?: { expr?: string; refId?: string }[];
  panels?: Panel[];
}
interface Query {
  dashboard: string;
  panel: string;
  expr: string;
}

/** Every panel query of every dashboard file (rows' panels included). */
function dashboardQueries(): { panels: number; queries: Query[] } {
  let panels = 0;
  const queries: Query[] = [];
  for (const file of readdirSync(DASHBOARDS).filter((name) => name.endsWith(".json"))) {
    const dashboard = JSON.parse(readFileSync(join(DASHBOARDS, file), "utf8")) as { panels: Panel[] };
    const visit = (list: Panel[]) => {
      for (const panel of list) {
        if (panel.type === "row") {
          visit(panel.panels ?? []);
          continue;
        }
        panels += 1;
        const exprs = (panel.targets ?? []).map((target) => target.expr ?? "");
        if (exprs.length === 0 || exprs.some((expr) => expr.trim() === "")) throw new Error(`${file}: panel "${panel.title}" has no query`);
        for (const expr of exprs) queries.push({ dashboard: file, panel: panel.title, expr });
      }
    };
    visit(dashboard.panels);
  }
  return { panels, queries };
}

/**
 * Dashboards that answer (issue 14 item 5): the local mesh with a real Prometheus scraping every
 * service, driven through mutations in both directions (events and the anti-entropy change feed),
 * a dead letter, a Key Vault certificate's new versions, a cell's certificate renewal and a
 * quarantine with its release; then EVERY panel query of every dashboard in
 * deploy/grafana/dashboards is evaluated through the Prometheus HTTP API and must return data
 * (a finite value). Prints "N panels, N answered".
 */
describe("Grafana dashboards against a real Prometheus", () => {
  let runDir: string;
  let pki: Pki;
  let ca: Issued;
  let mesh: LocalMesh;
  let nc: NatsConnection;
  let tap: BusTap;
  let secretsManager: SecretsManagerClient;

  const certDir = () => join(runDir, "cell-certificates");
  async function installCertificate(certificate: Issued): Promise<void> {
    await writeFile(join(certDir(), "tls.crt.next"), certificate.certPem);
    await rename(join(certDir(), "tls.crt.next"), join(certDir(), "tls.crt"));
  }

  beforeAll(async () => {
    runDir = await mkdtemp(join(tmpdir(), "credmesh-dashboards-"));
    pki = await createPki();
    ca = await pki.ca("credmesh-local-ca");
    await mkdir(certDir());
    await writeFile(join(certDir(), "ca.crt"), ca.certPem);
    await installCertificate(await pki.leaf(CELL, { issuer: ca, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 90 * DAY) }));
    // A place that holds no certificate (a half-written file), so the source-error panels have something to show.
    await writeFile(join(certDir(), "broken.crt"), "not a certificate\n");
    const cells = [
      "cells:",
      `  - id: ${CELL}`,
      "    certificates:",
      `      - { path: ${join(certDir(), "tls.crt")}, expectedCommonName: ${CELL}, trustAnchorFile: ${join(certDir(), "ca.crt")} }`,
      `      - { path: ${join(certDir(), "broken.crt")} }`,
      `    vaultCertificates: [{ vault: ${VAULT}, name: ${CELL}-client }]`,
      `    aws: { roleArn: "${LOCAL_REPLICATOR_ROLE_ARN}" }`,
      // An Entra principal the watcher may not change (no Graph permission): the Azure layer fails, visibly.
      `    azure: { servicePrincipalId: ${randomUUID()} }`,
      "    policies: { clockSkew: true }",
      "",
    ].join("\n");
    mesh = await startLocalMesh({
      tools: loadTools(),
      runDir: join(runDir, "mesh"),
      ports: "free",
      prometheus: { scrapeIntervalSeconds: 1 },
      cells,
      env: { "identity-watcher": { CREDMESH_IDENTITY_SCAN_INTERVAL_MS: "500", CREDMESH_IDENTITY_ENFORCE_INTERVAL_MS: "1000" } },
    });
    await mesh.waitReady(120_000);
    // The test observes the whole bus, as the local deployment's admin identity.
    nc = await connect({ ...connectionOptions({ servers: [mesh.natsUrl], auth: { kind: "nkey", seedFile: mesh.seedFile({ kind: "admin" }) } }), name: "credmesh-dashboards-test" });
    tap = new BusTap(nc, "credmesh.>");
    secretsManager = new SecretsManagerClient({ region: LOCAL_AWS_REGION, endpoint: mesh.awsEndpoint, credentials: { accessKeyId: "local", secretAccessKey: "local" } });
    const iam = new IAMClient({ region: LOCAL_AWS_REGION, endpoint: mesh.awsEndpoint, credentials: { accessKeyId: "local", secretAccessKey: "local" } });
    const trust = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Federated: "oidc" }, Action: "sts:AssumeRoleWithWebIdentity" }] });
    await iam.send(new CreateRoleCommand({ RoleName: LOCAL_REPLICATOR_ROLE_ARN.split("/").at(-1), AssumeRolePolicyDocument: trust, Tags: [{ Key: "CellStatus", Value: "Active" }] }));
    iam.destroy();
  }, 240_000);

  afterAll(async () => {
    tap?.stop();
    await nc?.close().catch(() => undefined);
    secretsManager?.destroy();
    await mesh?.stop();
    await pki?.remove();
    await rm(runDir, { recursive: true, force: true });
  });

  const audit = (predicate: (decision: string, name: string) => boolean, timeoutMs = 60_000) =>
    tap.waitFor((message) => {
      if (!/^credmesh\.audit\.(aws|azure)\./.test(message.subject)) return false;
      const record = JSON.parse(message.data) as { decision: string; destination: { name: string }; origin: { secretName?: string } };
      return predicate(record.decision, `${record.origin.secretName ?? ""}|${record.destination.name}`);
    }, timeoutMs);
  const identityEvent = (kind: string, timeoutMs = 60_000) => tap.waitFor((message) => message.subject === `credmesh.identity.${CELL}.${kind}`, timeoutMs);

  async function postEventBridgeCreate(name: string, value: string): Promise<void> {
    const created = await secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    const event = cloudTrailEvent("aws-cloudtrail-createsecret.json", { arn: created.ARN ?? "", name, account: LOCAL_AWS_ACCOUNT, region: LOCAL_AWS_REGION }, { versionId: created.VersionId ?? "" });
    const response = await fetch(`${mesh.ingestUrl}/webhooks/eventbridge`, {
      method: "POST",
      headers: { "content-type": "application/json", [LOCAL_API_KEY_HEADER]: mesh.keys.eventBridgeApiKeys[0] ?? "" },
      body: JSON.stringify(event),
    });
    expect(response.status).toBe(202);
  }

  it("drives the mesh: both directions, a dead letter, vault certificate versions, a renewal, a quarantine and its release", async () => {
    const keyVault = keyVaultClientFor(mesh.vaultUrl, mesh.imdsEndpoint, mesh.azureCaFile);
    const run = randomBytes(3).toString("hex");
    // Two rounds, a few scrapes apart, so every rate() and histogram_quantile() has observations to divide.
    for (const round of [1, 2]) {
      // AWS → Azure through EventBridge and ingest, and through the change feed (anti-entropy).
      await postEventBridgeCreate(`prod/dash-${run}/event-${round}`, randomBytes(16).toString("hex"));
      await secretsManager.send(new CreateSecretCommand({ Name: `prod/dash-${run}/feed-${round}`, SecretString: randomBytes(16).toString("hex") }));
      // Azure → AWS through Event Grid and ingest.
      const secret = await keyVault.setSecret(`prod-dash-${run}-${round}`, randomBytes(16).toString("hex"));
      await postEventGrid(mesh.ingestUrl, `Bearer ${mesh.keys.eventGridSharedKey ?? ""}`, secretNewVersionCreated(VAULT, secret.name, secret.properties.version ?? ""));
      // A Key Vault certificate of the cell gets a new version (a renewal in the vault), through Event Grid.
      await postEventGrid(
        mesh.ingestUrl,
        `Bearer ${mesh.keys.eventGridSharedKey ?? ""}`,
        certificateNewVersionCreated(VAULT, `${CELL}-client`, randomBytes(16).toString("hex"), { notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 60 * DAY) }),
      );
      await audit((decision, names) => decision === "applied" && names.startsWith(`prod/dash-${run}/event-${round}|`));
      await audit((decision, names) => decision === "applied" && names.startsWith(`prod/dash-${run}/feed-${round}|`));
      await audit((decision, names) => decision === "applied" && names.startsWith(`prod-dash-${run}-${round}|`));
      await new Promise((resolveWait) => setTimeout(resolveWait, 3_000));
    }

    // A dead letter: the replica's name is taken by a secret credmesh does not manage.
    const unmanaged = `prod/dash-${run}/unmanaged`;
    await keyVault.setSecret(toKeyVaultName("{name}", { name: unmanaged, account: LOCAL_AWS_ACCOUNT, region: LOCAL_AWS_REGION }), "someone else's");
    await postEventBridgeCreate(unmanaged, randomBytes(16).toString("hex"));
    await audit((decision, names) => decision === "dead_lettered" && names.startsWith(`${unmanaged}|`));

    // The cell's certificate file is renewed (a new certificate at the same place), once the first is known.
    await waitForQuery(mesh, `count(x509_cert_not_after{cell="${CELL}"}) > 0`, 60_000);
    await installCertificate(await pki.leaf(CELL, { issuer: ca, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 30 * DAY) }));
    await identityEvent("renewed");

    // A quarantine: the replicators of the cell stop; work that arrives meanwhile is refused; then the release.
    const server = ["--server", mesh.natsUrl, "--nkey", mesh.seedFile({ kind: "operator" })];
    const operator = { env: { CREDMESH_NATS_PLAINTEXT: "true" } };
    const quarantined = await runCredmesh(["quarantine", CELL, "--reason", "dashboards test", ...server], operator);
    expect(quarantined.code, quarantined.stderr).toBe(0);
    await identityEvent("quarantined");
    await secretsManager.send(new CreateSecretCommand({ Name: `prod/dash-${run}/while-quarantined`, SecretString: randomBytes(16).toString("hex") }));
    const reconcile = await runCredmesh(["reconcile", "--destination", "azure", "--timeout", "20", ...server], operator);
    expect(reconcile.code, `${reconcile.stdout}\n${reconcile.stderr}`).not.toBe(2);
    await waitForQuery(mesh, `sum(credmesh_quarantine_aborted_total{cell="${CELL}"}) > 0`, 60_000);
    const released = await runCredmesh(["release", CELL, "--reason", "dashboards test done", ...server], operator);
    expect(released.code, released.stderr).toBe(0);
    await identityEvent("released");
    await audit((decision, names) => decision === "applied" && names.startsWith(`prod/dash-${run}/while-quarantined|`));
  }, 300_000);

  it("answers every panel query of every dashboard", async () => {
    const { panels, queries } = dashboardQueries();
    const unanswered = new Map<string, string>();
    const deadline = Date.now() + 120_000;
    let pending = queries;
    while (pending.length > 0 && Date.now() < deadline) {
      const results = await Promise.all(pending.map(async (query) => ({ query, answer: await evaluate(mesh, query.expr) })));
      pending = results.filter(({ answer }) => answer !== "data").map(({ query, answer }) => {
        unanswered.set(`${query.dashboard} / ${query.panel}: ${query.expr}`, answer);
        return query;
      });
      if (pending.length > 0) await new Promise((resolveWait) => setTimeout(resolveWait, 2_000));
    }
    const missing = pending.map((query) => `${query.dashboard} / ${query.panel}: ${query.expr} → ${unanswered.get(`${query.dashboard} / ${query.panel}: ${query.expr}`)}`);
    const answeredPanels = panels - new Set(pending.map((query) => `${query.dashboard}/${query.panel}`)).size;
    process.stdout.write(`dashboards: ${panels} panels, ${answeredPanels} answered (${queries.length} queries)\n`);
    expect(missing).toEqual([]);
    expect(panels).toBeGreaterThan(30);
  }, 180_000);
});

/** "data" when the instant query returns at least one finite sample; otherwise why not. */
async function evaluate(mesh: LocalMesh, expr: string): Promise<string> {
  if (expr.includes("$")) return "uses a template variable the test cannot resolve";
  const url = new URL("/api/v1/query", mesh.prometheusUrl);
  url.searchParams.set("query", expr);
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { status: string; error?: string; data?: { resultType: string; result: { value: [number, string] }[] | [number, string] } };
  if (body.status !== "success") return `error: ${body.error ?? response.status}`;
  const result = body.data?.result;
  const values = body.data?.resultType === "scalar" ? [(result as [number, string])[1]] : ((result as { value: [number, string] }[] | undefined) ?? []).map((sample) => sample.value[1]);
  if (values.length === 0) return "empty";
  return values.some((value) => Number.isFinite(Number(value))) ? "data" : `only ${values.join(", ")}`;
}

async function waitForQuery(mesh: LocalMesh, expr: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await evaluate(mesh, expr)) !== "data") {
    if (Date.now() > deadline) throw new Error(`no data for ${expr} within ${timeoutMs} ms`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 1_000));
  }
}
