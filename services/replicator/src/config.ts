import { DEFAULT_CONSUMER_SETTINGS } from "@credmesh/bus";
import { CELL_ID, IAM_ROLE_ARN } from "@credmesh/identifiers";
import type { Cloud } from "@credmesh/bus-names";
import { EnvReader, loadRules, readCommonConfig, type CommonConfig, type RuleSet } from "@credmesh/config";
import { AZURE_TOKEN_EXCHANGE_AUDIENCE, DEFAULT_IMDS_ENDPOINT } from "@credmesh/identity";
import type { Sensitive } from "@credmesh/logging";
import type { RateLimitSettings } from "@credmesh/vault";
import { readDeadlineSettings, type DeadlineSettings } from "./deadline-config.ts";
import { readThrottleSettings } from "./throttle-config.ts";
import { readIdentityConfig, type IdentityConfig } from "./identity-config.ts";
import { readReconcileConfig, type ReconcileConfig } from "./reconcile-config.ts";

/**
 * Configuration of a replicator cell, resolved at boot. A cell consumes the mutations of one
 * destination cloud and reads the other cloud with federated credentials — no static key anywhere.
 */
export interface ReplicatorConfig extends CommonConfig, DeadlineSettings {
  destination: Cloud;
  cell: string;
  /** Role session names of credmesh's writers start with this; CloudTrail events from them are echoes. */
  ownSessionPrefix: string;
  opsHost: string;
  opsPort: number;
  rules: RuleSet;
  concurrency: number;
  maxDeliver: number;
  ackWaitMs: number;
  maxAckPending: number;
  pinTimeoutMs: number;
  /** How often the quarantine state is read besides the KV watch (the gate fails closed when it cannot be). */
  quarantineRecheckMs: number;
  /** Lifetime of a per-secret lease (renewed while working); 0 turns leases off (single replica). */
  secretLeaseMs: number;
  /** Key for the provenance content hash (HMAC), so a tag never reveals a guessable value. */
  contentHashKey: Sensitive<string>;
  /** Rate limits per vault, below the clouds' quotas (throttle-config.ts). */
  throttle: RateLimitSettings;
  /** Anti-entropy: periodic and on-demand reconcile runs (reconcile-config.ts). */
  reconcile: ReconcileConfig;
  /** Credential chains per cloud, token lifetimes and clock skew tolerance (identity-config.ts). */
  identity: IdentityConfig;
  aws: {
    webIdentityTokenFile: string | undefined;
    roleArn: string;
    stsRegion: string;
    sessionDurationSeconds: number;
    /** Secrets Manager and STS endpoint override (emulators only). */
    endpoint: string | undefined;
  };
  azure: {
    tenantId: string | undefined;
    federatedTokenFile: string | undefined;
    authorityHost: string | undefined;
    /** Template of a source vault's URL from its name (Event Grid names vaults, not URLs). */
    vaultUrlTemplate: string;
    identityEndpoint: string;
    clientId: string | undefined;
    tokenAudience: string;
    caFile: string | undefined;
    disableChallengeResourceVerification: boolean;
    pollIntervalMs: number;
  };
}

export function resolveReplicatorConfig(env: Readonly<Record<string, string | undefined>> = process.env): ReplicatorConfig {
  const read = new EnvReader(env);
  const cell = read.string("CREDMESH_CELL", { pattern: CELL_ID, hint: "letters, digits and _.@- (it becomes the STS role session name)" });
  const awsEndpoint = read.optionalString("CREDMESH_AWS_ENDPOINT");
  const ackWaitMs = read.int("CREDMESH_ACK_WAIT_MS", { default: DEFAULT_CONSUMER_SETTINGS.ackWaitMs, min: 5_000, max: 600_000 });
  const secretLeaseMs = read.int("CREDMESH_SECRET_LEASE_MS", { default: 30_000, min: 0, max: 600_000 });
  const config: ReplicatorConfig = {
    ...readCommonConfig(read),
    destination: read.oneOf("CREDMESH_DESTINATION", ["azure", "aws"] as const),
    cell,
    ownSessionPrefix: read.string("CREDMESH_OWN_SESSION_PREFIX", { default: "credmesh-", pattern: /^[A-Za-z0-9_=,.@-]{1,32}$/ }),
    opsHost: read.string("CREDMESH_REPLICATOR_OPS_HOST", { default: "127.0.0.1" }),
    opsPort: read.int("CREDMESH_REPLICATOR_OPS_PORT", { default: 9091, min: 0, max: 65_535 }),
    rules: [],
    concurrency: read.int("CREDMESH_REPLICATOR_CONCURRENCY", { default: 8, min: 1, max: 256 }),
    maxDeliver: read.int("CREDMESH_MAX_DELIVER", { default: DEFAULT_CONSUMER_SETTINGS.maxDeliver, min: 2, max: 100 }),
    ackWaitMs,
    maxAckPending: read.int("CREDMESH_MAX_ACK_PENDING", { default: DEFAULT_CONSUMER_SETTINGS.maxAckPending, min: 1, max: 10_000 }),
    pinTimeoutMs: read.int("CREDMESH_PIN_TIMEOUT_MS", { default: DEFAULT_CONSUMER_SETTINGS.pinTimeoutMs, min: 1_000, max: 300_000 }),
    quarantineRecheckMs: read.int("CREDMESH_QUARANTINE_RECHECK_MS", { default: 5_000, min: 500, max: 60_000 }),
    secretLeaseMs,
    ...readDeadlineSettings(read, { ackWaitMs, secretLeaseMs }),
    contentHashKey: read.secret("CREDMESH_CONTENT_HASH_KEY", { required: true, minLength: 32 }) as Sensitive<string>,
    throttle: readThrottleSettings(read),
    reconcile: readReconcileConfig(read),
    identity: readIdentityConfig(read),
    aws: {
      webIdentityTokenFile: read.optionalString("CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE"),
      roleArn: read.string("CREDMESH_AWS_ROLE_ARN", { pattern: IAM_ROLE_ARN, hint: "an IAM role ARN" }),
      stsRegion: read.string("CREDMESH_AWS_STS_REGION", { default: "us-east-1" }),
      sessionDurationSeconds: read.int("CREDMESH_AWS_SESSION_DURATION_SECONDS", { default: 3_600, min: 900, max: 43_200 }),
      endpoint: awsEndpoint === undefined ? undefined : read.url("CREDMESH_AWS_ENDPOINT", { protocols: ["http:", "https:"] }),
    },
    azure: {
      tenantId: read.optionalString("CREDMESH_AZURE_TENANT_ID"),
      federatedTokenFile: read.optionalString("CREDMESH_AZURE_FEDERATED_TOKEN_FILE"),
      authorityHost: read.optionalString("CREDMESH_AZURE_AUTHORITY_HOST"),
      vaultUrlTemplate: read.string("CREDMESH_AZURE_VAULT_URL_TEMPLATE", { default: "https://{vault}.vault.azure.net" }),
      identityEndpoint: read.url("CREDMESH_AZURE_IDENTITY_ENDPOINT", { default: DEFAULT_IMDS_ENDPOINT, protocols: ["http:", "https:"] }),
      clientId: read.optionalString("CREDMESH_AZURE_CLIENT_ID"),
      tokenAudience: read.string("CREDMESH_AZURE_TOKEN_AUDIENCE", { default: AZURE_TOKEN_EXCHANGE_AUDIENCE }),
      caFile: read.optionalString("CREDMESH_AZURE_CA_FILE"),
      disableChallengeResourceVerification: read.bool("CREDMESH_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION", false),
      pollIntervalMs: read.int("CREDMESH_AZURE_POLL_INTERVAL_MS", { default: 1_000, min: 50, max: 30_000 }),
    },
  };
  read.done();
  return { ...config, rules: loadRules(config.rulesFile) };
}
