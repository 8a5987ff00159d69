import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SecretClient } from "@azure/keyvault-secrets";
import { DEFAULT_PARTITIONS } from "@credmesh/bus-names";
import type { BusRole } from "@credmesh/bus-roles";
import { connectionOptions } from "@credmesh/bus";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { KeyVaultEmulator, KeyVaultEmulatorOptions } from "../emulators/keyvault/index.ts";
import { createTlsMaterial } from "../emulators/keyvault/tls.ts";
import { startFaultProxy, type FaultProxy, type FaultProxyOptions } from "./fault-proxy.ts";
import type { ManagedProcess } from "./managed-process.ts";
import { startNatsCluster, type NatsCluster, type NatsClusterOptions } from "./nats-cluster.ts";
import {
  LOCAL_API_KEY_HEADER,
  LOCAL_AWS_ACCOUNT,
  LOCAL_AWS_REGION,
  LOCAL_REPLICATOR_ROLE_ARN,
  LOCAL_WATCHER_ROLE_ARN,
  freePort,
  localServiceEnv,
  type LocalAddresses,
  type LocalKeys,
} from "@credmesh/local-mesh";
import { busAccess, createBusSecurity, natsServerSecurity } from "./bus-security.ts";
import { keyVaultClientFor } from "./keyvault-client.ts";
import { startKeyVault, startMoto, startNats, type MotoPart, type NatsPart } from "./parts.ts";
import { startRecordingProxy, type RecordingProxy } from "./recording-proxy.ts";
import { startServiceAccountIssuer, type ServiceAccountIssuer } from "./service-account-issuer.ts";
import { startService } from "./services.ts";

// The harness runs the local topology (@credmesh/local-mesh): its account, region and roles.
export const AWS_ACCOUNT = LOCAL_AWS_ACCOUNT;
export const AWS_REGION = LOCAL_AWS_REGION;
export const ROLE_ARN = LOCAL_REPLICATOR_ROLE_ARN;
/** The identity-watcher's own role (IAM calls to quarantine cells). */
export const WATCHER_ROLE_ARN = LOCAL_WATCHER_ROLE_ARN;
/** The identity-watcher's user-assigned identity in the emulated Entra tenant (Graph permission granted). */
export const WATCHER_CLIENT_ID = "5a7e0c11-9d3f-4b2e-8c41-00000000f001";

/** With an identity-watcher, each Azure replica's own user-assigned identity (its Entra principal). */
export function cellClientId(replica: number): string {
  return `5a7e0c11-9d3f-4b2e-8c41-${String(replica + 1).padStart(12, "0")}`;
}

export interface MeshOptions {
  /** Name prefixes in scope of the AWS → Azure rule. */
  namePrefixes?: string[];
  /** Include the AWS → Azure rule (default true); false leaves only `azureToAws` (a one-way Azure → AWS rule set). */
  awsToAzure?: boolean;
  /** Extra environment for the replicator (e.g. short credential lifetimes). */
  replicatorEnv?: Record<string, string>;
  /** Extra environment for ingest (e.g. Event Grid authentication). */
  ingestEnv?: Record<string, string>;
  /**
   * Also replicate Azure → AWS (a bidirectional rule set): a second rule and a replicator-aws
   * cell, which gets AWS credentials from a web identity token file as a cell in AWS would.
   */
  azureToAws?: { vaultName: string; namePrefixes: string[] };
  /**
   * Replicator processes for destination Azure (default 1): the same durable consumers, each its
   * own cell (`e2e-azure-<n>`) and ops port, as replicas in production.
   */
  replicas?: number;
  /**
   * Fault-injecting proxies between the replicators and the clouds: `aws` in front of moto
   * (Secrets Manager JSON calls; STS passes untouched), `azure` in front of the Key Vault
   * emulator (TLS terminated with the proxy's own CA, which the replicators trust beside the
   * emulator's). The test's own clients always talk to the clouds directly.
   */
  faults?: { aws?: FaultSettings; azure?: FaultSettings };
  /** Behaviour of the emulated Key Vault (default: the real service's timing and limits). */
  keyVault?: KeyVaultEmulatorOptions;
  /** Policy settings of the AWS → Azure rule, e.g. `{ onForceDelete: "purge" }`. */
  ruleSettings?: Record<string, string | boolean>;
  /** Extra environment per Azure replica (index from 0), after `replicatorEnv`. */
  replicaEnv?: (replica: number) => Record<string, string>;
  /**
   * Also run the identity-watcher, with this cells file (YAML). The cells' IAM role (ROLE_ARN) and
   * the watcher's own role are created in moto; each Azure replica gets its own Entra principal
   * ({@link cellClientId}); the watcher's ({@link WATCHER_CLIENT_ID}) may write service principals.
   */
  identityWatcher?: { cells: string; env?: Record<string, string> };
  /**
   * Run the bus as a JetStream cluster (default 3 nodes) instead of one server, with the same TLS
   * and role identities on every node; every service gets every node's URL and
   * `CREDMESH_STREAM_REPLICAS` = the node count (streams and buckets R3).
   */
  cluster?: Omit<NatsClusterOptions, "security">;
  /** Ingest processes (default 1), each on its own port: replicas behind a load balancer. */
  ingests?: number;
  /** Replicator processes for destination AWS (default 1, with `azureToAws`), each its own cell `e2e-aws-<n>`. */
  awsReplicas?: number;
  /** Extra environment for the replicators of destination AWS. */
  replicatorAwsEnv?: Record<string, string>;
}

type FaultSettings = Omit<FaultProxyOptions, "target" | "flavor" | "tls">;

const AZURE_TO_AWS_RULE = "azure-to-aws";
/** The role session of the replicator-aws cell, as CloudTrail records its writes. */
export const AWS_CELL_SESSION_ARN = `arn:aws:sts::${AWS_ACCOUNT}:assumed-role/credmesh-replicator/credmesh-e2e-aws-1`;

/**
 * The whole mesh for an end-to-end test: NATS, moto (behind a recording proxy), the Key Vault
 * emulator, ingest and a replicator for destination Azure — all real processes on loopback —
 * plus SDK clients to look into both clouds.
 */
export interface Mesh {
  nats: NatsPart;
  /** The cluster behind `nats`, when `cluster` asked for one. */
  cluster?: NatsCluster;
  /** Every ingest process (`ingest` first) and its URL, in the same order. */
  ingests: ManagedProcess[];
  ingestUrls: string[];
  /** Every replicator for destination AWS, when `azureToAws` was requested (`replicatorAws` first). */
  replicatorsAws: ManagedProcess[];
  /**
   * Starts a stopped or killed service process of the mesh again with the same configuration,
   * in its place in `ingests`/`replicators`/`replicatorsAws` (so `stop()` stops the new one).
   */
  restart(process: ManagedProcess): Promise<ManagedProcess>;
  moto: MotoPart;
  awsProxy: RecordingProxy;
  keyVault: KeyVaultEmulator;
  ingest: ManagedProcess;
  /** The first (or only) replicator for destination Azure. */
  replicator: ManagedProcess;
  /** Every replicator for destination Azure, `replicator` first. */
  replicators: ManagedProcess[];
  /** Their ops endpoints (/metrics, /readyz), in the same order. */
  replicatorOpsUrls: string[];
  /** The fault proxies, when `faults` asked for them. */
  faults: { aws?: FaultProxy; azure?: FaultProxy };
  /** The Key Vault URL the replicators write to (the fault proxy's, when there is one). */
  replicaVaultUrl: string;
  /** The identity-watcher, when `identityWatcher` was requested. */
  identityWatcher?: ManagedProcess;
  identityWatcherOpsUrl?: string;
  /** Starts another identity-watcher process with the same configuration (after the first was stopped). */
  startIdentityWatcher(): Promise<ManagedProcess>;
  /** The Azure → AWS replicator, when `azureToAws` was requested. */
  replicatorAws?: ManagedProcess;
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
  const replicas = options.replicas ?? 1;
  // Every process gets its own bus identity, with the permissions production gives its role.
  const azureCell = (replica: number): string => `e2e-azure-${replica + 1}`;
  const awsCell = (replica: number): string => `e2e-aws-${replica + 1}`;
  const awsReplicas = options.azureToAws ? (options.awsReplicas ?? 1) : 0;
  const deployment = {
    partitions: DEFAULT_PARTITIONS,
    replicators: [
      ...Array.from({ length: replicas }, (_, replica) => ({ destination: "azure" as const, cell: azureCell(replica) })),
      ...Array.from({ length: awsReplicas }, (_, replica) => ({ destination: "aws" as const, cell: awsCell(replica) })),
    ],
  };
  const startBus = async (): Promise<{ nats: NatsPart; cluster?: NatsCluster }> => {
    if (!options.cluster) return { nats: await startNats({ deployment }) };
    // Every node with the same TLS certificate and role identities as a single test bus.
    const securityDir = join(dir, "bus");
    const security = await createBusSecurity(securityDir, deployment);
    const cluster = await startNatsCluster({ ...options.cluster, security: await natsServerSecurity(security) });
    return { nats: { ...busAccess(cluster.url, security), port: cluster.nodes[0]?.port ?? 0, stop: () => cluster.stop() }, cluster };
  };
  const [{ nats, cluster }, moto, keyVault] = await Promise.all([startBus(), startMoto(), startKeyVault(options.keyVault)]);
  const awsProxy = await startRecordingProxy(moto.endpoint);
  const faults: { aws?: FaultProxy; azure?: FaultProxy } = {};
  if (options.faults?.aws) {
    // Behind the recording proxy's count: what it records is what reached moto.
    faults.aws = await startFaultProxy({ seed: 11, ...options.faults.aws, target: awsProxy.endpoint, flavor: "aws-json" });
  }
  let azureCaFile = keyVault.caCertPath;
  if (options.faults?.azure) {
    const tlsDir = join(dir, "fault-proxy-tls");
    await mkdir(tlsDir);
    const tls = await createTlsMaterial(tlsDir);
    const emulatorCa = readFileSync(keyVault.caCertPath, "utf8");
    azureCaFile = join(dir, "ca-bundle.pem");
    await writeFile(azureCaFile, `${emulatorCa}\n${readFileSync(tls.caCertPath, "utf8")}`);
    faults.azure = await startFaultProxy({
      seed: 23,
      ...options.faults.azure,
      target: keyVault.vaultUrl,
      flavor: "keyvault",
      tls: { cert: tls.cert, key: tls.key, upstreamCa: emulatorCa },
    });
  }
  const replicaVaultUrl = faults.azure?.endpoint ?? keyVault.vaultUrl;
  const awsEndpoint = faults.aws?.endpoint ?? awsProxy.endpoint;
  const ruleId = "aws-to-azure";
  const rulesFile = join(dir, "rules.yaml");
  await writeFile(
    rulesFile,
    [
      "rules:",
      ...(options.awsToAzure === false
        ? []
        : [
            `  - id: ${ruleId}`,
            "    source:",
            "      cloud: aws",
            `      accounts: ["${AWS_ACCOUNT}"]`,
            `      regions: ["${AWS_REGION}"]`,
            `      namePrefixes: ${JSON.stringify(options.namePrefixes ?? ["prod/"])}`,
            "    destination:",
            "      cloud: azure",
            `      vaultUrl: ${replicaVaultUrl}`,
            ...Object.entries(options.ruleSettings ?? {}).map(([key, value]) => `    ${key}: ${JSON.stringify(value)}`),
          ]),
      ...(options.azureToAws
        ? [
            `  - id: ${AZURE_TO_AWS_RULE}`,
            "    source:",
            "      cloud: azure",
            `      vaults: ["${options.azureToAws.vaultName}"]`,
            `      namePrefixes: ${JSON.stringify(options.azureToAws.namePrefixes)}`,
            "    destination:",
            "      cloud: aws",
            `      account: "${AWS_ACCOUNT}"`,
            `      region: ${AWS_REGION}`,
          ]
        : []),
      "",
    ].join("\n"),
  );
  const apiKey = randomBytes(24).toString("base64url");
  const contentHashKey = randomBytes(32).toString("hex");
  // Every service's environment is the local topology's (the one `credmesh up` and compose use),
  // with the test's addresses, the bus as production runs it (TLS, the service's own role) and
  // overrides on top.
  const cellsFile = join(dir, "cells.yaml");
  const where: Omit<LocalAddresses, "bus"> = {
    bindHost: "127.0.0.1",
    awsEndpoint,
    imdsEndpoint: keyVault.imdsEndpoint,
    vaultUrl: keyVault.vaultUrl,
    // Event Grid names vaults; every vault name resolves to the one emulator (or its fault proxy).
    vaultUrlTemplate: replicaVaultUrl,
    azureCaFile,
    rulesFile,
    cellsFile,
  };
  // Two EventBridge keys accepted at once, as during a rotation; no Event Grid webhook unless a test configures one.
  const keys: LocalKeys = { eventBridgeApiKeys: [randomBytes(24).toString("base64url"), apiKey], contentHashKey };
  const envOf = (service: Parameters<typeof localServiceEnv>[0], port: number, role: BusRole) => ({
    ...localServiceEnv(service, { ...where, bus: () => nats.env(role) }, keys, { logLevel: "debug", port }),
    ...(cluster ? { CREDMESH_STREAM_REPLICAS: String(cluster.nodes.length) } : {}),
  });

  const ingestPorts: number[] = [];
  for (let index = 0; index < (options.ingests ?? 1); index++) ingestPorts.push(await freePort());
  const opsPorts: number[] = [];
  for (let replica = 0; replica < replicas; replica++) opsPorts.push(await freePort());
  // Recovery polls at test speed.
  const azurePolling = { CREDMESH_AZURE_POLL_INTERVAL_MS: "100" };
  const tokenFile = join(dir, "aws-web-identity-token");
  await writeFile(tokenFile, unsignedServiceAccountToken());
  // The replicator-aws cell reads Key Vault as a workload outside Azure does: a projected
  // service-account token, trusted by Entra (the emulator) through a federated credential.
  let issuer: ServiceAccountIssuer | undefined;
  let stopProjection: (() => void) | undefined;
  const azureTokenFile = join(dir, "azure-identity-token");
  const replicatorAwsClientId = "7f1c4a52-3e0b-4d8e-9a61-2c4b8f0e5d13";
  if (options.azureToAws) {
    issuer = await startServiceAccountIssuer();
    keyVault.addFederatedCredential({
      clientId: replicatorAwsClientId,
      issuer: issuer.issuer,
      subject: issuer.subjectOf("credmesh", "replicator-aws"),
      jwksUri: issuer.jwksUri,
    });
    stopProjection = await issuer.projectTokenFile(azureTokenFile, { namespace: "credmesh", serviceAccount: "replicator-aws" });
  }
  const replicatorAwsFor = (replica: number) =>
    startService(
      "replicator",
      {
        ...envOf("replicator-aws", 0, { kind: "replicator", destination: "aws", cell: awsCell(replica) }),
        ...azurePolling,
        CREDMESH_CELL: awsCell(replica),
        CREDMESH_AZURE_IDENTITY: "client-assertion",
        CREDMESH_AZURE_TENANT_ID: keyVault.tenantId,
        CREDMESH_AZURE_CLIENT_ID: replicatorAwsClientId,
        CREDMESH_AZURE_FEDERATED_TOKEN_FILE: azureTokenFile,
        CREDMESH_AZURE_AUTHORITY_HOST: keyVault.authorityHost,
        CREDMESH_AWS_IDENTITY: "web-identity-token-file",
        CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        ...options.replicatorAwsEnv,
      },
      /replicator running/,
    );
  const replicatorsAwsStarting = Promise.all(Array.from({ length: awsReplicas }, (_, replica) => replicatorAwsFor(replica)));
  const replicatorFor = (replica: number) =>
    startService(
      "replicator",
      {
        ...envOf("replicator-azure", opsPorts[replica] ?? 0, { kind: "replicator", destination: "azure", cell: azureCell(replica) }),
        ...azurePolling,
        CREDMESH_CELL: azureCell(replica),
        ...(options.identityWatcher ? { CREDMESH_AZURE_CLIENT_ID: cellClientId(replica) } : {}),
        ...options.replicatorEnv,
        ...options.replicaEnv?.(replica),
      },
      /replicator running/,
    );
  const ingestFor = (port: number) => startService("ingest", { ...envOf("ingest", port, { kind: "ingest" }), ...options.ingestEnv }, /ingest listening/);
  const started = await Promise.all([...ingestPorts.map((port) => ingestFor(port)), ...Array.from({ length: replicas }, (_, replica) => replicatorFor(replica))]);
  const ingests = started.slice(0, ingestPorts.length);
  const replicators = started.slice(ingestPorts.length);
  const ingest = ingests[0];
  if (!ingest) throw new Error("ingests must be at least 1");
  const replicator = replicators[0];
  if (!replicator) throw new Error("replicas must be at least 1");

  const watcherOpsPort = await freePort();
  const startIdentityWatcher = async (): Promise<ManagedProcess> => {
    if (!options.identityWatcher) throw new Error("the mesh was started without identityWatcher");
    return startService(
      "identity-watcher",
      {
        ...envOf("identity-watcher", watcherOpsPort, { kind: "identity-watcher" }),
        CREDMESH_IDENTITY_SCAN_INTERVAL_MS: "500",
        // The watcher's IAM calls bypass the fault proxies; it reads IMDS as its own user-assigned identity.
        CREDMESH_AWS_IDENTITY: "web-identity-token-file",
        CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        CREDMESH_AWS_ENDPOINT: awsProxy.endpoint,
        CREDMESH_AZURE_IDENTITY: "managed-identity",
        CREDMESH_AZURE_CLIENT_ID: WATCHER_CLIENT_ID,
        CREDMESH_AZURE_CA_FILE: keyVault.caCertPath,
        ...options.identityWatcher.env,
      },
      /identity-watcher running/,
    );
  };
  let identityWatcher: ManagedProcess | undefined;
  if (options.identityWatcher) {
    await writeFile(cellsFile, options.identityWatcher.cells);
    const iam = new IAMClient({ region: AWS_REGION, endpoint: moto.endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
    const trust = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Federated: "oidc" }, Action: "sts:AssumeRoleWithWebIdentity" }] });
    for (const arn of [ROLE_ARN, WATCHER_ROLE_ARN]) {
      await iam.send(new CreateRoleCommand({ RoleName: arn.split("/").at(-1), AssumeRolePolicyDocument: trust, Tags: [{ Key: "CellStatus", Value: "Active" }] }));
    }
    iam.destroy();
    for (let replica = 0; replica < replicas; replica++) keyVault.registerServicePrincipal(cellClientId(replica), `credmesh cell e2e-azure-${replica + 1}`);
    keyVault.grantGraphRole(WATCHER_CLIENT_ID, "Application.ReadWrite.All");
    identityWatcher = await startIdentityWatcher();
  }

  const replicatorsAws = await replicatorsAwsStarting;
  const awsReplicator = replicatorsAws[0];
  const secretsManager = new SecretsManagerClient({
    region: AWS_REGION,
    endpoint: moto.endpoint,
    // moto accepts any credentials; these are test-only placeholders for the test's own client.
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  const keyVaultClient = keyVaultClientFor(keyVault.vaultUrl, keyVault.imdsEndpoint, keyVault.caCertPath);
  // On a cluster the observer notices a dead or frozen node as the services do (pings every 2 s)
  // and moves to another, so what it reports during a fault comes from a live node.
  const bus = cluster
    ? await connect({ ...connectionOptions(nats.connection()), name: "credmesh-e2e-observer", maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 2_000, maxPingOut: 2, timeout: 2_000 })
    : await nats.connect(undefined, "credmesh-e2e-observer");
  // Each service process with the function that started it, so a killed one can be started again in its place.
  const groups: Array<{ processes: ManagedProcess[]; start: (index: number) => Promise<ManagedProcess> }> = [
    { processes: ingests, start: (index) => ingestFor(ingestPorts[index] ?? 0) },
    { processes: replicators, start: (index) => replicatorFor(index) },
    { processes: replicatorsAws, start: (index) => replicatorAwsFor(index) },
  ];
  const restart = async (process: ManagedProcess): Promise<ManagedProcess> => {
    const group = groups.find((candidate) => candidate.processes.includes(process));
    if (!group) throw new Error(`${process.name} is not a service of this mesh`);
    const index = group.processes.indexOf(process);
    await process.stop();
    const next = await group.start(index);
    group.processes[index] = next;
    return next;
  };

  return {
    nats,
    ...(cluster ? { cluster } : {}),
    ingests,
    ingestUrls: ingestPorts.map((port) => `http://127.0.0.1:${port}`),
    replicatorsAws,
    restart,
    moto,
    awsProxy,
    keyVault,
    ingest,
    replicator,
    replicators,
    replicatorOpsUrls: opsPorts.map((port) => `http://127.0.0.1:${port}`),
    faults,
    replicaVaultUrl,
    ...(awsReplicator ? { replicatorAws: awsReplicator } : {}),
    ...(identityWatcher ? { identityWatcher, identityWatcherOpsUrl: `http://127.0.0.1:${watcherOpsPort}` } : {}),
    startIdentityWatcher,
    ingestUrl: `http://127.0.0.1:${ingestPorts[0]}`,
    replicatorOpsUrl: `http://127.0.0.1:${opsPorts[0]}`,
    apiKey,
    apiKeyHeader: LOCAL_API_KEY_HEADER,
    contentHashKey,
    rulesFile,
    ruleId,
    secretsManager,
    keyVaultClient,
    bus,
    async stop() {
      await bus.close().catch(() => undefined);
      secretsManager.destroy();
      await Promise.allSettled([...ingests, ...replicators, ...replicatorsAws, ...(identityWatcher ? [identityWatcher] : [])].map((process) => process.stop()));
      stopProjection?.();
      await Promise.allSettled([nats.stop(), moto.stop(), keyVault.stop(), awsProxy.stop(), issuer?.stop(), faults.aws?.stop(), faults.azure?.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A service-account-shaped token for the replicator-aws cell's web identity file. moto's STS does
 * not verify web identity tokens (a documented emulator gap), so its signature is a placeholder.
 */
function unsignedServiceAccountToken(): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  return [
    part({ alg: "RS256", typ: "JWT" }),
    part({ iss: "https://oidc.eks.us-east-1.amazonaws.com/id/E2E", sub: "system:serviceaccount:credmesh:replicator-aws", aud: "sts.amazonaws.com", iat: now, exp: now + 3600 }),
    "placeholder-signature",
  ].join(".");
}
