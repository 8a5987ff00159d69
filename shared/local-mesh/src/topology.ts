/**
 * The local topology: every part of a local credmesh mesh, its port, its process and the
 * environment of each credmesh service — described once. `credmesh up` runs it as local processes,
 * the test harness builds its services' environments from it, and docker-compose.yml,
 * deploy/local/rules.yaml and deploy/prometheus/prometheus.yml are checked against it by
 * test/integration/deploy-compose.test.ts (a drift fails that test).
 *
 * A part has ONE port, the same on 127.0.0.1 under `credmesh up` and inside its compose container
 * (published as `127.0.0.1:<port>:<port>`), so an address printed by one is true of the other.
 * @see ../../../README.md#quick-start
 */
import { DEFAULT_PARTITIONS } from "@credmesh/bus-names";
import type { BusDeployment, BusRole } from "@credmesh/bus-roles";

/** The emulated AWS account and region of the local mesh (moto accepts any). */
export const LOCAL_AWS_ACCOUNT = "123456789012";
export const LOCAL_AWS_REGION = "us-east-1";
/** The replicator cells' IAM role, assumed through STS web identity (moto does not verify the token). */
export const LOCAL_REPLICATOR_ROLE_ARN = `arn:aws:iam::${LOCAL_AWS_ACCOUNT}:role/credmesh-replicator`;
/** The identity-watcher's own IAM role (quarantine's AWS layer). */
export const LOCAL_WATCHER_ROLE_ARN = `arn:aws:iam::${LOCAL_AWS_ACCOUNT}:role/credmesh-identity-watcher`;
/** The name the Azure → AWS rule gives the emulated vault (compose: also its container's hostname). */
export const LOCAL_VAULT_NAME = "keyvault";
/** The EventBridge connection's API key header. */
export const LOCAL_API_KEY_HEADER = "x-api-key";
/**
 * Anti-entropy interval of the local replicators: the local change feed. A secret changed with any
 * SDK or CLI against moto or the emulated Key Vault reaches the other side at the next run (the
 * replicators' minimum; README "Quick start" gives the measured latency).
 */
export const LOCAL_RECONCILE_INTERVAL_SECONDS = 10;

/** Third-party parts: what runs them under `credmesh up`, and their port(s). */
export const LOCAL_PARTS = {
  nats: { port: 4222, monitorPort: 8222, what: "NATS JetStream" },
  moto: { port: 5000, what: "AWS (moto: Secrets Manager, STS, IAM)" },
  keyvault: { port: 8443, imdsPort: 8081, what: "Azure Key Vault (emulator, with managed identity)" },
  prometheus: { port: 9090, what: "Prometheus" },
} as const;

/** Parts that only docker compose runs (container images without a local binary here). */
export const COMPOSE_ONLY_PARTS = {
  "nats-exporter": { port: 7777, what: "prometheus-nats-exporter" },
  grafana: { port: 3000, what: "Grafana" },
} as const;

/** A credmesh service of the local mesh. */
export interface LocalService {
  /** The entry point, relative to the repository root (`node <entry>`). */
  readonly entry: string;
  /** Its HTTP port: ingest's webhooks and ops endpoints, the other services' ops endpoints. */
  readonly port: number;
  /** The Prometheus job name (alert rules and dashboards select on it). */
  readonly job: string;
  /** The log line that says it is ready. */
  readonly ready: RegExp;
  readonly what: string;
}

export const LOCAL_SERVICES = {
  ingest: { entry: "services/ingest/src/main.ts", port: 8080, job: "credmesh-ingest", ready: /ingest listening/, what: "webhooks: EventBridge, Event Grid" },
  "replicator-azure": {
    entry: "services/replicator/src/main.ts",
    port: 9091,
    job: "credmesh-replicator",
    ready: /replicator running/,
    what: "AWS → Azure",
  },
  "replicator-aws": { entry: "services/replicator/src/main.ts", port: 9092, job: "credmesh-replicator", ready: /replicator running/, what: "Azure → AWS" },
  "identity-watcher": {
    entry: "services/identity-watcher/src/main.ts",
    port: 9093,
    job: "credmesh-identity-watcher",
    ready: /identity-watcher running/,
    what: "certificates, identity events, quarantine",
  },
} as const satisfies Record<string, LocalService>;

export type LocalServiceName = keyof typeof LOCAL_SERVICES;
export const LOCAL_SERVICE_NAMES = Object.keys(LOCAL_SERVICES) as LocalServiceName[];

/** The cell of each replicator (its STS session `credmesh-<cell>`, its quarantine unit). */
export const LOCAL_CELLS = { "replicator-azure": "local-azure-1", "replicator-aws": "local-aws-1" } as const;

/** The bus identities of the local topology (@credmesh/bus-roles): one replicator cell per direction. */
export const LOCAL_BUS_DEPLOYMENT: BusDeployment = {
  partitions: DEFAULT_PARTITIONS,
  replicators: [
    { destination: "azure", cell: LOCAL_CELLS["replicator-azure"] },
    { destination: "aws", cell: LOCAL_CELLS["replicator-aws"] },
  ],
};

/** The bus identity a service of the local topology connects as. */
export function localBusRole(service: LocalServiceName): BusRole {
  switch (service) {
    case "ingest":
      return { kind: "ingest" };
    case "replicator-azure":
      return { kind: "replicator", destination: "azure", cell: LOCAL_CELLS[service] };
    case "replicator-aws":
      return { kind: "replicator", destination: "aws", cell: LOCAL_CELLS[service] };
    case "identity-watcher":
      return { kind: "identity-watcher" };
  }
}

/**
 * The bus settings of local development (`credmesh up`, compose): the service's own identity, over
 * a plaintext connection chosen explicitly (CREDMESH_NATS_PLAINTEXT; the Helm chart and the test
 * suite use TLS).
 */
export function localPlaintextBus(natsUrl: string, seedFile: string): Record<string, string> {
  return { CREDMESH_NATS_URL: natsUrl, CREDMESH_NATS_PLAINTEXT: "true", CREDMESH_NATS_NKEY_SEED_FILE: seedFile };
}

/** Where the parts are, as the credmesh services reach them. */
export interface LocalAddresses {
  /** The address services bind: 127.0.0.1 on a host, 0.0.0.0 in a container. */
  bindHost: string;
  /** The CREDMESH_NATS_* settings of a service: the bus's address, TLS or plaintext, its identity. */
  bus: (service: LocalServiceName) => Record<string, string>;
  /** moto (Secrets Manager, STS, IAM). */
  awsEndpoint: string;
  /** The emulator's managed-identity (IMDS) token endpoint. */
  imdsEndpoint: string;
  /** The emulator's vault URL (its Graph endpoint too). */
  vaultUrl: string;
  /** Key Vault URL of a vault name (Event Grid and Azure-source rules name vaults); `{vault}` is replaced. */
  vaultUrlTemplate: string;
  /** The CA certificate the emulator's TLS certificate chains to. */
  azureCaFile: string;
  rulesFile: string;
  cellsFile: string;
}

/** Local-only keys (never production secrets): EventBridge API keys, the Event Grid shared key, the content-hash key. */
export interface LocalKeys {
  eventBridgeApiKeys: readonly string[];
  /** Enables the Event Grid webhook with shared-key authentication; absent: webhook off. */
  eventGridSharedKey?: string;
  contentHashKey: string;
}

export interface LocalEnvOptions {
  logLevel?: "trace" | "debug" | "info" | "warn" | "error";
  /** Periodic anti-entropy; absent: the replicators' default (hourly). */
  reconcileIntervalSeconds?: number;
  /** The service's port, when not the topology's (tests run on free ports). */
  port?: number;
}

/**
 * The environment of a credmesh service in the local topology. Everything a service reads is here
 * (compose's blocks must equal it), and nothing it does not read (the compose test resolves each
 * environment with the service's own configuration code).
 */
export function localServiceEnv(service: LocalServiceName, where: LocalAddresses, keys: LocalKeys, options: LocalEnvOptions = {}): Record<string, string> {
  const bus = { ...where.bus(service), CREDMESH_LOG_LEVEL: options.logLevel ?? "info" };
  const port = String(options.port ?? LOCAL_SERVICES[service].port);
  switch (service) {
    case "ingest":
      return {
        ...bus,
        CREDMESH_RULES_FILE: where.rulesFile,
        CREDMESH_INGEST_HOST: where.bindHost,
        CREDMESH_INGEST_PORT: port,
        CREDMESH_EVENTBRIDGE_API_KEY_HEADER: LOCAL_API_KEY_HEADER,
        CREDMESH_EVENTBRIDGE_API_KEYS: keys.eventBridgeApiKeys.join(","),
        ...(keys.eventGridSharedKey === undefined ? {} : { CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS: keys.eventGridSharedKey }),
      };
    case "replicator-azure":
    case "replicator-aws":
      return {
        ...bus,
        CREDMESH_RULES_FILE: where.rulesFile,
        CREDMESH_CELL: LOCAL_CELLS[service],
        CREDMESH_DESTINATION: service === "replicator-azure" ? "azure" : "aws",
        CREDMESH_REPLICATOR_OPS_HOST: where.bindHost,
        CREDMESH_REPLICATOR_OPS_PORT: port,
        CREDMESH_CONTENT_HASH_KEY: keys.contentHashKey,
        // AWS: the emulator's managed identity token, exchanged by STS (moto) for the cells' role.
        CREDMESH_AWS_ROLE_ARN: LOCAL_REPLICATOR_ROLE_ARN,
        CREDMESH_AWS_STS_REGION: LOCAL_AWS_REGION,
        CREDMESH_AWS_ENDPOINT: where.awsEndpoint,
        ...azureAccess(where),
        CREDMESH_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: "true",
        CREDMESH_AZURE_VAULT_URL_TEMPLATE: where.vaultUrlTemplate,
        ...(options.reconcileIntervalSeconds === undefined ? {} : { CREDMESH_RECONCILE_INTERVAL_SECONDS: String(options.reconcileIntervalSeconds) }),
      };
    case "identity-watcher":
      return {
        ...bus,
        CREDMESH_IDENTITY_OPS_HOST: where.bindHost,
        CREDMESH_IDENTITY_OPS_PORT: port,
        CREDMESH_IDENTITY_CELLS_FILE: where.cellsFile,
        // Quarantine's cloud layers, for cells that name an IAM role or an Entra principal.
        CREDMESH_AWS_ROLE_ARN: LOCAL_WATCHER_ROLE_ARN,
        CREDMESH_AWS_STS_REGION: LOCAL_AWS_REGION,
        CREDMESH_AWS_ENDPOINT: where.awsEndpoint,
        ...azureAccess(where),
        CREDMESH_GRAPH_ENDPOINT: where.vaultUrl,
      };
  }
}

function azureAccess(where: LocalAddresses): Record<string, string> {
  return { CREDMESH_AZURE_IDENTITY_ENDPOINT: where.imdsEndpoint, CREDMESH_AZURE_CA_FILE: where.azureCaFile };
}

/** A replication rule of the local mesh, as the rules file holds it (README "Replication rules"). */
export type LocalRule = Record<string, unknown> & { id: string };

/**
 * The local mesh's rules, both directions: every moto secret under `prod/` goes to the emulated
 * Key Vault, every Key Vault secret named `prod-…` goes back to moto. deploy/local/rules.yaml is
 * this with compose's vault URL.
 */
export function localRules(vaultUrl: string): { rules: LocalRule[] } {
  return {
    rules: [
      {
        id: "local-aws-to-azure",
        description: "Local development mesh, AWS → Azure",
        source: { cloud: "aws", accounts: [LOCAL_AWS_ACCOUNT], regions: [LOCAL_AWS_REGION], namePrefixes: ["prod/"] },
        destination: { cloud: "azure", vaultUrl, nameTemplate: "{name}" },
        onDelete: "soft-delete",
      },
      {
        id: "local-azure-to-aws",
        description: "Local development mesh, Azure → AWS",
        source: { cloud: "azure", vaults: [LOCAL_VAULT_NAME], namePrefixes: ["prod-"] },
        destination: { cloud: "aws", account: LOCAL_AWS_ACCOUNT, region: LOCAL_AWS_REGION, nameTemplate: "{name}" },
      },
    ],
  };
}

/** Prometheus scrape jobs of the local mesh: job name → the services it scrapes. */
export function localScrapeJobs(): Map<string, LocalServiceName[]> {
  const jobs = new Map<string, LocalServiceName[]>();
  for (const name of LOCAL_SERVICE_NAMES) jobs.set(LOCAL_SERVICES[name].job, [...(jobs.get(LOCAL_SERVICES[name].job) ?? []), name]);
  return jobs;
}

/** The alert rule files of deploy/prometheus that every Prometheus of credmesh loads. */
export const ALERT_RULE_FILES = ["alerts.yml", "identity-alerts.yml"] as const;
