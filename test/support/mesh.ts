import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SecretClient } from "@azure/keyvault-secrets";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { KeyVaultEmulator } from "../emulators/keyvault/index.ts";
import type { ManagedProcess } from "./managed-process.ts";
import { startKeyVault, startMoto, startNats, type MotoPart, type NatsPart } from "./parts.ts";
import { freePort } from "./ports.ts";
import { startRecordingProxy, type RecordingProxy } from "./recording-proxy.ts";
import { startService } from "./services.ts";

export const AWS_ACCOUNT = "123456789012";
export const AWS_REGION = "us-east-1";
export const ROLE_ARN = `arn:aws:iam::${AWS_ACCOUNT}:role/credmesh-replicator`;

export interface MeshOptions {
  /** Name prefixes in scope of the AWS → Azure rule. */
  namePrefixes?: string[];
  /** Extra environment for the replicator (e.g. short credential lifetimes). */
  replicatorEnv?: Record<string, string>;
}

/**
 * The whole mesh for an end-to-end test: NATS, moto (behind a recording proxy), the Key Vault
 * emulator, ingest and a replicator for destination Azure — all real processes on loopback —
 * plus SDK clients to look into both clouds.
 */
export interface Mesh {
  nats: NatsPart;
  moto: MotoPart;
  awsProxy: RecordingProxy;
  keyVault: KeyVaultEmulator;
  ingest: ManagedProcess;
  replicator: ManagedProcess;
  ingestUrl: string;
  replicatorOpsUrl: string;
  apiKey: string;
  apiKeyHeader: string;
  contentHashKey: string;
  rulesFile: string;
  ruleId: string;
  secretsManager: SecretsManagerClient;
  keyVaultClient: SecretClient;
  bus: NatsConnection;
  stop(): Promise<void>;
}

export async function startMesh(options: MeshOptions = {}): Promise<Mesh> {
  const dir = await mkdtemp(join(tmpdir(), "credmesh-mesh-"));
  const [nats, moto, keyVault] = await Promise.all([startNats(), startMoto(), startKeyVault()]);
  const awsProxy = await startRecordingProxy(moto.endpoint);
  const ruleId = "aws-to-azure";
  const rulesFile = join(dir, "rules.yaml");
  await writeFile(
    rulesFile,
    [
      "rules:",
      `  - id: ${ruleId}`,
      "    source:",
      "      cloud: aws",
      `      accounts: ["${AWS_ACCOUNT}"]`,
      `      regions: ["${AWS_REGION}"]`,
      `      namePrefixes: ${JSON.stringify(options.namePrefixes ?? ["prod/"])}`,
      "    destination:",
      "      cloud: azure",
      `      vaultUrl: ${keyVault.vaultUrl}`,
      "",
    ].join("\n"),
  );
  const apiKey = randomBytes(24).toString("base64url");
  const contentHashKey = randomBytes(32).toString("hex");
  const common = { CREDMESH_NATS_URL: nats.url, CREDMESH_RULES_FILE: rulesFile, CREDMESH_LOG_LEVEL: "debug" };

  const ingestPort = await freePort();
  const opsPort = await freePort();
  const [ingest, replicator] = await Promise.all([
    startService(
      "ingest",
      {
        ...common,
        CREDMESH_INGEST_PORT: String(ingestPort),
        CREDMESH_EVENTBRIDGE_API_KEY_HEADER: "x-api-key",
        // Two keys accepted at once, as during a rotation.
        CREDMESH_EVENTBRIDGE_API_KEYS: `${randomBytes(24).toString("base64url")},${apiKey}`,
      },
      /ingest listening/,
    ),
    startService(
      "replicator",
      {
        ...common,
        CREDMESH_CELL: "e2e-azure-1",
        CREDMESH_DESTINATION: "azure",
        CREDMESH_REPLICATOR_OPS_PORT: String(opsPort),
        CREDMESH_CONTENT_HASH_KEY: contentHashKey,
        CREDMESH_AWS_ROLE_ARN: ROLE_ARN,
        CREDMESH_AWS_STS_REGION: AWS_REGION,
        CREDMESH_AWS_ENDPOINT: awsProxy.endpoint,
        CREDMESH_AZURE_IDENTITY_ENDPOINT: keyVault.imdsEndpoint,
        CREDMESH_AZURE_CA_FILE: keyVault.caCertPath,
        CREDMESH_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: "true",
        CREDMESH_AZURE_POLL_INTERVAL_MS: "100",
        ...options.replicatorEnv,
      },
      /replicator running/,
    ),
  ]);

  const secretsManager = new SecretsManagerClient({
    region: AWS_REGION,
    endpoint: moto.endpoint,
    // moto accepts any credentials; these are test-only placeholders for the test's own client.
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  const keyVaultClient = new SecretClient(
    keyVault.vaultUrl,
    {
      async getToken(scopes) {
        const scope = (Array.isArray(scopes) ? scopes[0] : scopes) ?? "";
        const url = new URL(keyVault.imdsEndpoint);
        url.searchParams.set("api-version", "2018-02-01");
        url.searchParams.set("resource", scope.replace(/\/\.default$/, ""));
        const response = await fetch(url, { headers: { Metadata: "true" } });
        const body = (await response.json()) as { access_token: string; expires_on: string };
        return { token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000 };
      },
    },
    { disableChallengeResourceVerification: true, tlsOptions: { ca: readFileSync(keyVault.caCertPath, "utf8") } },
  );
  const bus = await connect({ servers: nats.url, name: "credmesh-e2e-observer" });

  return {
    nats,
    moto,
    awsProxy,
    keyVault,
    ingest,
    replicator,
    ingestUrl: `http://127.0.0.1:${ingestPort}`,
    replicatorOpsUrl: `http://127.0.0.1:${opsPort}`,
    apiKey,
    apiKeyHeader: "x-api-key",
    contentHashKey,
    rulesFile,
    ruleId,
    secretsManager,
    keyVaultClient,
    bus,
    async stop() {
      await bus.close().catch(() => undefined);
      secretsManager.destroy();
      await Promise.allSettled([ingest.stop(), replicator.stop()]);
      await Promise.allSettled([nats.stop(), moto.stop(), keyVault.stop(), awsProxy.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
