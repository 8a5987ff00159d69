import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SecretClient } from "@azure/keyvault-secrets";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { KeyVaultEmulator } from "../emulators/keyvault/index.ts";
import { imdsCredential } from "../emulators/keyvault/test-client.ts";
import { parsePrometheusText, valueOf } from "../integration/support/prometheus-text.ts";
import { BusTap } from "../support/bus-tap.ts";
import { secretNewVersionCreated } from "../support/eventgrid.ts";
import type { ManagedProcess } from "../support/managed-process.ts";
import { startKeyVault, startMoto, startNats, type MotoPart, type NatsPart } from "../support/parts.ts";
import { freePort } from "../support/ports.ts";
import { startRecordingProxy, type RecordingProxy } from "../support/recording-proxy.ts";
import { startServiceAccountIssuer, type ServiceAccountIssuer } from "../support/service-account-issuer.ts";
import { startService } from "../support/services.ts";
import { startStsOutboundFederation, type StsOutboundFederation } from "../support/sts-outbound-federation.ts";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/credmesh-replicator-aws`;
const CELL = "e2e-aws-gwit";
const CLIENT = "3d9c1e7a-0000-4000-8000-0000000000cc";
const VAULT = "credmesh-gwit";
const RULE = "azure-to-aws-gwit";

/**
 * AWS → Azure by AWS outbound identity federation, end to end (issue 5, item 4): a replicator-aws
 * cell with no Azure token file and no client secret reads Key Vault with an assertion minted by
 * STS GetWebIdentityToken, and writes the replica into Secrets Manager. Its Azure chain is
 * `client-assertion,aws-web-identity-token`; the token file is not configured in this deployment,
 * so the chain moves on to STS.
 *
 * Emulator gap: moto 5.2.5 has no GetWebIdentityToken; the recording proxy routes that action to
 * test/support/sts-outbound-federation.ts, which verifies the request's SigV4 signature against the
 * credentials moto issued and mints AWS-shaped JWTs that the Key Vault emulator's Entra endpoint
 * trusts through a federated identity credential (issuer, subject = role ARN, audience).
 */
describe("replicator-aws reading Key Vault with STS GetWebIdentityToken", () => {
  let dir: string;
  let nats: NatsPart;
  let moto: MotoPart;
  let kv: KeyVaultEmulator;
  let proxy: RecordingProxy;
  let sts: StsOutboundFederation;
  let issuer: ServiceAccountIssuer;
  let stopProjection: () => void;
  let ingest: ManagedProcess;
  let replicator: ManagedProcess;
  let bus: NatsConnection;
  let tap: BusTap;
  let ingestUrl: string;
  let opsUrl: string;
  let vault: SecretClient;
  let secretsManager: SecretsManagerClient;
  const eventGridKey = randomBytes(24).toString("base64url");

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "credmesh-gwit-"));
    [nats, moto, kv, issuer] = await Promise.all([
      startNats({ deployment: { partitions: 16, replicators: [{ destination: "aws", cell: CELL }] } }),
      startMoto(),
      startKeyVault(),
      startServiceAccountIssuer(),
    ]);
    proxy = await startRecordingProxy(moto.endpoint);
    sts = await startStsOutboundFederation({
      account: ACCOUNT,
      region: REGION,
      credentialsOf: (accessKeyId) => {
        const issued = proxy.issued.get(accessKeyId);
        return issued && { secretAccessKey: issued.secretAccessKey, sessionToken: issued.sessionToken, roleArn: issued.roleArn };
      },
    });
    proxy.route("GetWebIdentityToken", sts.endpoint);
    // Entra trusts the account's STS issuer for this application, for the role's tokens only.
    kv.addFederatedCredential({ clientId: CLIENT, issuer: sts.issuer, subject: ROLE_ARN, jwksUri: sts.jwksUri });

    // The cell's AWS identity: an EKS (IRSA) projected service-account token, rotated by "the kubelet".
    const irsaToken = join(dir, "aws-web-identity-token");
    stopProjection = await issuer.projectTokenFile(irsaToken, { audience: "sts.amazonaws.com", serviceAccount: "replicator-aws" });

    const rulesFile = join(dir, "rules.yaml");
    await writeFile(
      rulesFile,
      [
        "rules:",
        `  - id: ${RULE}`,
        "    source:",
        "      cloud: azure",
        `      vaults: ["${VAULT}"]`,
        '      namePrefixes: ["gwit-"]',
        "    destination:",
        "      cloud: aws",
        `      account: "${ACCOUNT}"`,
        `      region: ${REGION}`,
        "",
      ].join("\n"),
    );
    const common = { CREDMESH_RULES_FILE: rulesFile, CREDMESH_LOG_LEVEL: "debug" };
    const ingestPort = await freePort();
    const opsPort = await freePort();
    ingestUrl = `http://127.0.0.1:${ingestPort}`;
    opsUrl = `http://127.0.0.1:${opsPort}`;
    [ingest, replicator] = await Promise.all([
      startService(
        "ingest",
        {
          ...common,
          ...nats.env({ kind: "ingest" }),
          CREDMESH_INGEST_PORT: String(ingestPort),
          CREDMESH_EVENTBRIDGE_API_KEYS: randomBytes(24).toString("base64url"),
          CREDMESH_EVENTGRID_AUTH: "shared-key",
          CREDMESH_EVENTGRID_SHARED_KEYS: eventGridKey,
        },
        /ingest listening/,
      ),
      startService(
        "replicator",
        {
          ...common,
          ...nats.env({ kind: "replicator", destination: "aws", cell: CELL }),
          CREDMESH_CELL: CELL,
          CREDMESH_DESTINATION: "aws",
          CREDMESH_REPLICATOR_OPS_PORT: String(opsPort),
          CREDMESH_CONTENT_HASH_KEY: randomBytes(32).toString("hex"),
          CREDMESH_AWS_IDENTITY: "web-identity-token-file",
          CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE: irsaToken,
          CREDMESH_AWS_ROLE_ARN: ROLE_ARN,
          CREDMESH_AWS_STS_REGION: REGION,
          CREDMESH_AWS_ENDPOINT: proxy.endpoint,
          // No CREDMESH_AZURE_FEDERATED_TOKEN_FILE here: client-assertion is skipped as not configured.
          CREDMESH_AZURE_IDENTITY: "client-assertion,aws-web-identity-token",
          CREDMESH_AZURE_TENANT_ID: kv.tenantId,
          CREDMESH_AZURE_CLIENT_ID: CLIENT,
          CREDMESH_AZURE_AUTHORITY_HOST: kv.authorityHost,
          CREDMESH_AZURE_CA_FILE: kv.caCertPath,
          CREDMESH_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: "true",
          CREDMESH_AZURE_POLL_INTERVAL_MS: "100",
          CREDMESH_AZURE_VAULT_URL_TEMPLATE: kv.vaultUrl,
          CREDMESH_RATE_LIMIT: "false",
        },
        /replicator running/,
      ),
    ]);
    bus = await nats.connect(undefined, "credmesh-e2e-gwit-observer");
    tap = new BusTap(bus);
    // The test's own vault client (a person with the vault's managed identity); not the cell's.
    vault = new SecretClient(kv.vaultUrl, imdsCredential(kv.tokenEndpoint, readFileSync(kv.caCertPath, "utf8")), {
      disableChallengeResourceVerification: true,
      tlsOptions: { ca: readFileSync(kv.caCertPath, "utf8") },
    });
    // moto accepts any credentials; these are test-only placeholders for the test's own client.
    secretsManager = new SecretsManagerClient({ region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
  }, 180_000);

  afterEach((context) => {
    if (context.task.result?.state === "fail") console.error(`--- ingest ---\n${ingest.tail(10)}\n--- replicator-aws ---\n${replicator.tail(30)}`);
  });

  afterAll(async () => {
    tap?.stop();
    await bus?.close().catch(() => undefined);
    secretsManager?.destroy();
    await Promise.allSettled([ingest?.stop(), replicator?.stop()]);
    stopProjection?.();
    await Promise.allSettled([nats?.stop(), moto?.stop(), kv?.stop(), proxy?.stop(), sts?.stop(), issuer?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  /** A person changes a secret in Key Vault; Event Grid delivers SecretNewVersionCreated. */
  async function changeInAzure(name: string, value: string): Promise<string> {
    const written = await vault.setSecret(name, value);
    const [event] = secretNewVersionCreated(VAULT, name, written.properties.version ?? "");
    const response = await fetch(`${ingestUrl}/webhooks/eventgrid`, {
      method: "POST",
      headers: { "content-type": "application/json", "aeg-event-type": "Notification", authorization: eventGridKey },
      body: JSON.stringify([event]),
    });
    expect(response.status).toBe(200);
    await response.body?.cancel();
    return String(event?.["id"]);
  }

  it("replicates Key Vault changes into Secrets Manager with one GetWebIdentityToken and one Entra exchange", async () => {
    const audits = [];
    for (let round = 0; round < 5; round += 1) {
      const id = await changeInAzure("gwit-db-password", `gwit-value-${round}`);
      audits.push(await tap.auditFor(id, 60_000));
    }
    expect(audits.map((a) => a.decision)).toEqual(["applied", "applied", "applied", "applied", "applied"]);
    const destination = audits[0]?.["destination"] as { name: string };
    const replica = await secretsManager.send(new GetSecretValueCommand({ SecretId: destination.name }));
    expect(replica.SecretString).toBe("gwit-value-4");

    // The Azure credential came from STS, once, signed by the cell's AWS session (verified by the
    // stand-in against the credentials moto issued to the role), and Entra took it once.
    expect(proxy.count("AssumeRoleWithWebIdentity")).toBe(1);
    expect(proxy.count("GetWebIdentityToken")).toBe(1);
    const call = proxy.requests.find((r) => r.action === "GetWebIdentityToken");
    expect(call?.status).toBe(200);
    expect(proxy.issued.get(call?.accessKeyId ?? "")).toMatchObject({ roleArn: ROLE_ARN, sessionName: `credmesh-${CELL}` });
    expect(sts.refused).toEqual([]);
    expect(kv.federatedExchanges()).toHaveLength(1);
    expect(kv.federatedExchanges()[0]).toMatchObject({ clientId: CLIENT, issuer: sts.issuer, subject: ROLE_ARN });

    // The replicator says which source won and counts every attempt under its source.
    expect(replicator.lines.some((line) => line.includes('"msg":"azure credentials from source aws-web-identity-token"'))).toBe(true);
    const metrics = parsePrometheusText(await (await fetch(`${opsUrl}/metrics`)).text());
    expect(valueOf(metrics, "credmesh_credential_refreshes_total", { source: "azure/aws-web-identity-token", outcome: "success" })).toBe(1);
    expect(valueOf(metrics, "credmesh_credential_refreshes_total", { source: "azure/client-assertion", outcome: "identity_unavailable" })).toBe(1);
    expect(valueOf(metrics, "credmesh_credential_refreshes_total", { source: "aws/web-identity-token-file", outcome: "success" })).toBe(1);
    // No token (web identity, assertion or access token) reached a log line.
    expect(sts.minted).toHaveLength(1);
    expect(replicator.lines.join("\n")).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
  });
});
