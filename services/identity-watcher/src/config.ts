import { EnvReader, readBaseConfig, type BaseConfig } from "@credmesh/config";
import { AZURE_TOKEN_EXCHANGE_AUDIENCE, DEFAULT_IMDS_ENDPOINT } from "@credmesh/identity";
import { loadCells, type CellConfig } from "./cells.ts";
import { DEFAULT_GRAPH_ENDPOINT } from "./quarantine/azure-layer.ts";

/**
 * Configuration of the identity-watcher, resolved at boot (README "Configuration reference").
 * Its own cloud identities — for IAM (role tags, revoke policy) and Microsoft Graph (disable the
 * service principal) — are federated like the replicators': no static key.
 */
export interface WatcherConfig extends BaseConfig {
  opsHost: string;
  opsPort: number;
  cells: CellConfig[];
  scanIntervalMs: number;
  enforceIntervalMs: number;
  layerTimeoutMs: number;
  aws: {
    identity: Array<"web-identity-token-file" | "azure-managed-identity">;
    roleArn: string | undefined;
    webIdentityTokenFile: string | undefined;
    stsRegion: string;
    sessionDurationSeconds: number;
    /** IAM and STS endpoint override (emulators only). */
    endpoint: string | undefined;
  };
  azure: {
    identity: Array<"managed-identity" | "client-assertion">;
    identityEndpoint: string;
    clientId: string | undefined;
    tenantId: string | undefined;
    federatedTokenFile: string | undefined;
    authorityHost: string | undefined;
    caFile: string | undefined;
    tokenAudience: string;
    graphEndpoint: string;
  };
}

const AWS_SOURCES = ["web-identity-token-file", "azure-managed-identity"] as const;
const AZURE_SOURCES = ["managed-identity", "client-assertion"] as const;

export function resolveWatcherConfig(env: Readonly<Record<string, string | undefined>> = process.env): WatcherConfig {
  const read = new EnvReader(env);
  const cellsFile = read.string("CREDMESH_IDENTITY_CELLS_FILE");
  const awsEndpoint = read.optionalString("CREDMESH_AWS_ENDPOINT");
  const config: WatcherConfig = {
    // Logging and the bus, read as every service reads them (@credmesh/config).
    ...readBaseConfig(read),
    opsHost: read.string("CREDMESH_IDENTITY_OPS_HOST", { default: "127.0.0.1" }),
    opsPort: read.int("CREDMESH_IDENTITY_OPS_PORT", { default: 9092, min: 0, max: 65_535 }),
    cells: [],
    scanIntervalMs: read.int("CREDMESH_IDENTITY_SCAN_INTERVAL_MS", { default: 60_000, min: 200, max: 3_600_000 }),
    enforceIntervalMs: read.int("CREDMESH_IDENTITY_ENFORCE_INTERVAL_MS", { default: 60_000, min: 1_000, max: 3_600_000 }),
    layerTimeoutMs: read.int("CREDMESH_IDENTITY_LAYER_TIMEOUT_MS", { default: 5_000, min: 500, max: 60_000 }),
    aws: {
      identity: sources(read, "CREDMESH_AWS_IDENTITY", AWS_SOURCES, "azure-managed-identity"),
      roleArn: read.optionalString("CREDMESH_AWS_ROLE_ARN"),
      webIdentityTokenFile: read.optionalString("CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE"),
      stsRegion: read.string("CREDMESH_AWS_STS_REGION", { default: "us-east-1" }),
      sessionDurationSeconds: read.int("CREDMESH_AWS_SESSION_DURATION_SECONDS", { default: 3_600, min: 900, max: 43_200 }),
      endpoint: awsEndpoint === undefined ? undefined : read.url("CREDMESH_AWS_ENDPOINT", { protocols: ["http:", "https:"] }),
    },
    azure: {
      identity: sources(read, "CREDMESH_AZURE_IDENTITY", AZURE_SOURCES, "managed-identity"),
      identityEndpoint: read.url("CREDMESH_AZURE_IDENTITY_ENDPOINT", { default: DEFAULT_IMDS_ENDPOINT, protocols: ["http:", "https:"] }),
      clientId: read.optionalString("CREDMESH_AZURE_CLIENT_ID"),
      tenantId: read.optionalString("CREDMESH_AZURE_TENANT_ID"),
      federatedTokenFile: read.optionalString("CREDMESH_AZURE_FEDERATED_TOKEN_FILE"),
      authorityHost: read.optionalString("CREDMESH_AZURE_AUTHORITY_HOST"),
      caFile: read.optionalString("CREDMESH_AZURE_CA_FILE"),
      tokenAudience: read.string("CREDMESH_AZURE_TOKEN_AUDIENCE", { default: AZURE_TOKEN_EXCHANGE_AUDIENCE }),
      graphEndpoint: read.url("CREDMESH_GRAPH_ENDPOINT", { default: DEFAULT_GRAPH_ENDPOINT, protocols: ["http:", "https:"] }),
    },
  };
  if (config.aws.roleArn !== undefined && !/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(config.aws.roleArn)) {
    read.problem(`CREDMESH_AWS_ROLE_ARN="${config.aws.roleArn}" is not an IAM role ARN`);
  }
  read.done();
  const cells = loadCells(cellsFile);
  const problems: string[] = [];
  if (cells.some((cell) => cell.aws) && config.aws.roleArn === undefined) {
    problems.push("a cell has an aws role to quarantine, but CREDMESH_AWS_ROLE_ARN (the watcher's own role) is not set");
  }
  if (config.aws.identity.includes("web-identity-token-file") && config.aws.identity.length === 1 && !config.aws.webIdentityTokenFile && config.aws.roleArn) {
    problems.push("CREDMESH_AWS_IDENTITY=web-identity-token-file needs CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE");
  }
  if (cells.some((cell) => cell.azure) && config.azure.identity.includes("client-assertion") && config.azure.identity.length === 1 && (!config.azure.tenantId || !config.azure.clientId || !config.azure.federatedTokenFile)) {
    problems.push("CREDMESH_AZURE_IDENTITY=client-assertion needs CREDMESH_AZURE_TENANT_ID, CREDMESH_AZURE_CLIENT_ID and CREDMESH_AZURE_FEDERATED_TOKEN_FILE");
  }
  for (const problem of problems) read.problem(problem);
  read.done();
  return { ...config, cells };
}

function sources<T extends string>(read: EnvReader, name: string, allowed: readonly T[], fallback: T): T[] {
  const list = read.list(name, [fallback]);
  const unknown = list.filter((item) => !(allowed as readonly string[]).includes(item));
  if (unknown.length > 0) read.problem(`${name} lists ${unknown.join(", ")}; known sources: ${allowed.join(", ")}`);
  return list.filter((item): item is T => (allowed as readonly string[]).includes(item));
}
