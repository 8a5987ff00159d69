import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SecretClient } from "@azure/keyvault-secrets";
import { ManagedIdentityTokenSource, managedIdentityCredential } from "@credmesh/identity";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ManagedProcess } from "../../../test/support/managed-process.ts";
import { startMoto, startNats, type MotoPart, type NatsPart } from "../../../test/support/parts.ts";
import { freePort } from "../../../test/support/ports.ts";
import { REPO_ROOT, startService } from "../../../test/support/services.ts";
import { loadTools } from "../../../test/support/tools.ts";

export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";
/** The Key Vault Event Grid names as the source of the Azure → AWS rule (every vault name resolves to the one emulator). */
export const SOURCE_VAULT = "benchvault";
/** Name prefixes of the two rules; neither direction's replica names fall into the other's scope. */
export const AWS_PREFIX = "aws2az/";
export const AZURE_PREFIX = "az2aws-";

export interface KeyVaultProcess {
  vaultUrl: string;
  imdsEndpoint: string;
  caCertPath: string;
  process: ManagedProcess;
}

export interface MeshOptions {
  /** Environment for both replicators (rate limits, concurrency, ...). */
  replicatorEnv?: Record<string, string>;
  /** Where the replicators reach Secrets Manager and Key Vault, when a proxy stands in front of moto or the emulator. */
  awsEndpointForReplicators?: (motoEndpoint: string) => Promise<string>;
  /** Where the replicators reach Key Vault (URL and the CA bundle to trust), when a proxy stands in front of the emulator. */
  keyVaultForReplicators?: (emulator: { vaultUrl: string; caCertPath: string }, dir: string) => Promise<{ vaultUrl: string; caFile: string }>;
  /** Extra arguments of the Key Vault emulator (test/emulators/keyvault/main.ts). */
  keyVaultArgs?: string[];
  /** Which replicators to start (default both). */
  destinations?: ReadonlyArray<"azure" | "aws">;
}

/**
 * The whole mesh as separate processes on loopback, so that the CPU and memory of each can be told
 * apart: nats-server, moto, the Key Vault emulator, ingest, replicator-azure and replicator-aws,
 * all at the operator's log level (info). Rules: AWS `aws2az/…` → Key Vault, Key Vault
 * `benchvault/az2aws-…` → Secrets Manager. The bench's own SDK clients (source changes, floors,
 * checks) talk to moto and the emulator directly.
 */
export interface BenchMesh {
  nats: NatsPart;
  moto: MotoPart;
  keyVault: KeyVaultProcess;
  ingest: ManagedProcess;
  ingestUrl: string;
  apiKey: string;
  eventGridKey: string;
  replicators: Partial<Record<"azure" | "aws", ManagedProcess>>;
  /** Ops endpoints (/metrics) of the replicators. */
  opsUrls: Partial<Record<"azure" | "aws", string>>;
  sm: SecretsManagerClient;
  kv: SecretClient;
  bus: NatsConnection;
  /** The processes whose CPU and memory the bench accounts, by name. */
  pids(): Record<string, number | undefined>;
  /** Stops a replicator (its durable consumers keep what arrives meanwhile) and, with `start`, starts it again. */
  stopReplicator(destination: "azure" | "aws"): Promise<void>;
  startReplicator(destination: "azure" | "aws"): Promise<void>;
  stop(): Promise<void>;
}

export async function startBenchMesh(options: MeshOptions = {}): Promise<BenchMesh> {
  // CPU and memory are accounted per process: every part must be a local process, never a container.
  process.env.CREDMESH_TEST_RUNTIME = "processes";
  const dir = await mkdtemp(join(tmpdir(), "credmesh-bench-mesh-"));
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async (): Promise<void> => {
    for (const step of stops.reverse()) await step().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [nats, moto] = await Promise.all([
      // Plaintext without identities, as the ingest section's floor: the bench measures the mesh's own
      // work; the TLS handshake and the permission checks are the e2e suite's concern.
      startNats({ plaintext: true }),
      startMoto(),
    ]);
    stops.push(() => nats.stop(), () => moto.stop());
    const kvProcess = new ManagedProcess("keyvault-emulator", loadTools().node, ["test/emulators/keyvault/main.ts", ...(options.keyVaultArgs ?? [])], { cwd: REPO_ROOT });
    stops.push(() => kvProcess.stop());
    const kvInfo = JSON.parse(await kvProcess.waitForLine(/^\{/)) as { vaultUrl: string; imdsEndpoint: string; caCertPath: string };
    const keyVault: KeyVaultProcess = { ...kvInfo, process: kvProcess };
    const awsEndpoint = options.awsEndpointForReplicators ? await options.awsEndpointForReplicators(moto.endpoint) : moto.endpoint;
    const replicaVault = options.keyVaultForReplicators
      ? await options.keyVaultForReplicators(keyVault, dir)
      : { vaultUrl: keyVault.vaultUrl, caFile: keyVault.caCertPath };

    const rulesFile = join(dir, "rules.yaml");
    await writeFile(
      rulesFile,
      [
        "rules:",
        "  - id: aws-to-azure",
        "    source:",
        "      cloud: aws",
        `      accounts: ["${ACCOUNT}"]`,
        `      regions: ["${REGION}"]`,
        `      namePrefixes: ["${AWS_PREFIX}"]`,
        "    destination:",
        "      cloud: azure",
        `      vaultUrl: ${replicaVault.vaultUrl}`,
        "  - id: azure-to-aws",
        "    source:",
        "      cloud: azure",
        `      vaults: ["${SOURCE_VAULT}"]`,
        `      namePrefixes: ["${AZURE_PREFIX}"]`,
        "    destination:",
        "      cloud: aws",
        `      account: "${ACCOUNT}"`,
        `      region: ${REGION}`,
        "",
      ].join("\n"),
    );
    const apiKey = randomBytes(24).toString("base64url");
    const eventGridKey = randomBytes(24).toString("base64url");
    const common = { CREDMESH_NATS_URL: nats.url, CREDMESH_NATS_PLAINTEXT: "true", CREDMESH_RULES_FILE: rulesFile, CREDMESH_LOG_LEVEL: "info" };
    const contentHashKey = randomBytes(32).toString("hex");
    const ingestPort = await freePort();
    const ingest = await startService(
      "ingest",
      {
        ...common,
        CREDMESH_INGEST_PORT: String(ingestPort),
        CREDMESH_EVENTBRIDGE_API_KEYS: apiKey,
        CREDMESH_EVENTGRID_AUTH: "shared-key",
        CREDMESH_EVENTGRID_SHARED_KEYS: eventGridKey,
      },
      /ingest listening/,
    );
    stops.push(() => ingest.stop());

    const replicators: BenchMesh["replicators"] = {};
    const opsUrls: BenchMesh["opsUrls"] = {};
    const opsPorts: Partial<Record<"azure" | "aws", number>> = {};
    const startReplicator = async (destination: "azure" | "aws"): Promise<void> => {
      const opsPort = opsPorts[destination] ?? (await freePort());
      opsPorts[destination] = opsPort;
      const replicator = await startService(
        "replicator",
        {
          ...common,
          CREDMESH_CELL: `bench-${destination}-1`,
          CREDMESH_DESTINATION: destination,
          CREDMESH_REPLICATOR_OPS_PORT: String(opsPort),
          CREDMESH_CONTENT_HASH_KEY: contentHashKey,
          CREDMESH_AWS_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/credmesh-replicator`,
          CREDMESH_AWS_STS_REGION: REGION,
          CREDMESH_AWS_ENDPOINT: awsEndpoint,
          CREDMESH_AZURE_IDENTITY_ENDPOINT: keyVault.imdsEndpoint,
          CREDMESH_AZURE_CA_FILE: replicaVault.caFile,
          CREDMESH_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: "true",
          CREDMESH_AZURE_POLL_INTERVAL_MS: "100",
          CREDMESH_AZURE_VAULT_URL_TEMPLATE: replicaVault.vaultUrl,
          // Anti-entropy only when the bench asks for it.
          CREDMESH_RECONCILE_INTERVAL_SECONDS: "0",
          ...options.replicatorEnv,
        },
        /replicator running/,
      );
      replicators[destination] = replicator;
      opsUrls[destination] = `http://127.0.0.1:${opsPort}`;
    };
    const stopReplicator = async (destination: "azure" | "aws"): Promise<void> => {
      await replicators[destination]?.stop();
      delete replicators[destination];
    };
    stops.push(() => Promise.all([stopReplicator("azure"), stopReplicator("aws")]));
    for (const destination of options.destinations ?? (["azure", "aws"] as const)) await startReplicator(destination);

    // The bench's own clients: moto accepts any credentials; the emulator's IMDS gives the token.
    const sm = new SecretsManagerClient({ region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: "bench", secretAccessKey: "bench" } });
    stops.push(async () => sm.destroy());
    const kv = new SecretClient(keyVault.vaultUrl, managedIdentityCredential(new ManagedIdentityTokenSource({ endpoint: keyVault.imdsEndpoint })), {
      disableChallengeResourceVerification: true,
      tlsOptions: { ca: readFileSync(keyVault.caCertPath, "utf8") },
    });
    const bus = await connect({ servers: nats.url, name: "credmesh-bench" });
    stops.push(() => bus.close());

    return {
      nats,
      moto,
      keyVault,
      ingest,
      ingestUrl: `http://127.0.0.1:${ingestPort}`,
      apiKey,
      eventGridKey,
      replicators,
      opsUrls,
      sm,
      kv,
      bus,
      pids: () => ({
        ingest: ingest.pid,
        "replicator-azure": replicators.azure?.pid,
        "replicator-aws": replicators.aws?.pid,
        moto: moto.process?.pid,
        "keyvault-emulator": kvProcess.pid,
        "nats-server": nats.process?.pid,
      }),
      stopReplicator,
      startReplicator,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Drops the output lines the harness keeps of each process; a long run must not grow them. */
export function forgetOutput(mesh: BenchMesh): void {
  for (const child of [mesh.ingest, mesh.keyVault.process, mesh.replicators.azure, mesh.replicators.aws, mesh.nats.process, mesh.moto.process]) {
    if (child) child.lines.length = 0;
  }
}
