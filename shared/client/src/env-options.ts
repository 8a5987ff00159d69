import { EnvReader } from "@credmesh/config";
import type { AwsCredentialSource, AzureCredentialSource } from "./credentials.ts";
import { DEFAULTS, type BackendOptions, type FailoverClientOptions } from "./options.ts";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The client's settings from environment variables (`CREDMESH_CLIENT_*`, and `CREDMESH_RULES_FILE`),
 * validated at once: a bad or missing setting throws a `ConfigError` naming every problem. The
 * README's "Configuration" table lists them.
 */
export function clientOptionsFromEnv(env: Env = process.env): FailoverClientOptions {
  const read = new EnvReader(env);
  const primary = read.oneOf("CREDMESH_CLIENT_PRIMARY", ["aws", "azure"] as const);
  const fallback = read.oneOf("CREDMESH_CLIENT_FALLBACK", ["aws", "azure", "none"] as const, "none");
  const backend = (cloud: "aws" | "azure"): BackendOptions => (cloud === "aws" ? awsBackend(read) : azureBackend(read));
  const options: FailoverClientOptions = {
    primary: backend(primary),
    ...(fallback === "none" ? {} : { fallback: backend(fallback), rules: read.string("CREDMESH_RULES_FILE") }),
    deadlineMs: read.int("CREDMESH_CLIENT_DEADLINE_MS", { default: DEFAULTS.deadlineMs, min: 1 }),
    attemptTimeoutMs: read.int("CREDMESH_CLIENT_ATTEMPT_TIMEOUT_MS", { default: DEFAULTS.attemptTimeoutMs, min: 1 }),
    breaker: {
      failures: read.int("CREDMESH_CLIENT_BREAKER_FAILURES", { default: DEFAULTS.breakerFailures, min: 1 }),
      halfOpenAfterMs: read.int("CREDMESH_CLIENT_BREAKER_HALF_OPEN_AFTER_MS", { default: DEFAULTS.halfOpenAfterMs, min: 1 }),
      halfOpenSamples: read.int("CREDMESH_CLIENT_BREAKER_HALF_OPEN_SAMPLES", { default: DEFAULTS.halfOpenSamples, min: 1 }),
    },
  };
  const ttlMs = read.int("CREDMESH_CLIENT_CACHE_TTL_MS", { default: DEFAULTS.ttlMs, min: 0 });
  options.cache =
    ttlMs === 0
      ? false
      : {
          ttlMs,
          refreshAhead: read.int("CREDMESH_CLIENT_CACHE_REFRESH_AHEAD_PERCENT", { default: DEFAULTS.refreshAhead * 100, min: 1, max: 100 }) / 100,
          maxStalenessMs: read.int("CREDMESH_CLIENT_CACHE_MAX_STALENESS_MS", { default: DEFAULTS.maxStalenessMs, min: 0 }),
          maxEntries: read.int("CREDMESH_CLIENT_CACHE_MAX_ENTRIES", { default: DEFAULTS.maxEntries, min: 1 }),
        };
  if (fallback === primary) read.problem("CREDMESH_CLIENT_FALLBACK must name the other cloud than CREDMESH_CLIENT_PRIMARY, or none");
  read.done();
  return options;
}

function awsBackend(read: EnvReader): BackendOptions {
  const endpoint = read.optionalString("CREDMESH_CLIENT_AWS_ENDPOINT");
  return {
    cloud: "aws",
    account: read.string("CREDMESH_CLIENT_AWS_ACCOUNT", { pattern: /^\d{12}$/, hint: "an AWS account id has 12 digits" }),
    region: read.string("CREDMESH_CLIENT_AWS_REGION", { pattern: /^[a-z]{2}(-[a-z]+)+-\d$/, hint: "not an AWS region" }),
    credentials: awsCredentials(read),
    ...(endpoint ? { endpoint: read.url("CREDMESH_CLIENT_AWS_ENDPOINT", { protocols: ["http:", "https:"] }) } : {}),
  };
}

function awsCredentials(read: EnvReader): AwsCredentialSource {
  const type = read.oneOf("CREDMESH_CLIENT_AWS_CREDENTIALS", ["default", "azure-managed-identity", "web-identity-token-file"] as const, "default");
  const sts = {
    sessionName: read.optionalString("CREDMESH_CLIENT_AWS_SESSION_NAME"),
    stsEndpoint: read.optionalString("CREDMESH_CLIENT_AWS_STS_ENDPOINT"),
  };
  switch (type) {
    case "default":
      return { type };
    case "azure-managed-identity":
      return {
        type,
        roleArn: read.string("CREDMESH_CLIENT_AWS_ROLE_ARN"),
        identityEndpoint: read.optionalString("CREDMESH_CLIENT_AZURE_IDENTITY_ENDPOINT"),
        clientId: read.optionalString("CREDMESH_CLIENT_AZURE_CLIENT_ID"),
        ...sts,
      };
    case "web-identity-token-file":
      return { type, roleArn: read.string("CREDMESH_CLIENT_AWS_ROLE_ARN"), tokenFile: read.string("CREDMESH_CLIENT_AWS_WEB_IDENTITY_TOKEN_FILE"), ...sts };
  }
}

function azureBackend(read: EnvReader): BackendOptions {
  return {
    cloud: "azure",
    vaultUrl: read.url("CREDMESH_CLIENT_AZURE_VAULT_URL", { protocols: ["https:"] }),
    vaultName: read.optionalString("CREDMESH_CLIENT_AZURE_VAULT_NAME"),
    credential: azureCredential(read),
    caFile: read.optionalString("CREDMESH_CLIENT_AZURE_CA_FILE"),
    disableChallengeResourceVerification: read.bool("CREDMESH_CLIENT_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION", false),
  };
}

function azureCredential(read: EnvReader): AzureCredentialSource {
  const type = read.oneOf("CREDMESH_CLIENT_AZURE_CREDENTIAL", ["default", "managed-identity", "client-assertion"] as const, "default");
  switch (type) {
    case "default":
      return { type };
    case "managed-identity":
      return { type, endpoint: read.optionalString("CREDMESH_CLIENT_AZURE_IDENTITY_ENDPOINT"), clientId: read.optionalString("CREDMESH_CLIENT_AZURE_CLIENT_ID") };
    case "client-assertion":
      return {
        type,
        tenantId: read.string("CREDMESH_CLIENT_AZURE_TENANT_ID"),
        clientId: read.string("CREDMESH_CLIENT_AZURE_CLIENT_ID"),
        tokenFile: read.string("CREDMESH_CLIENT_AZURE_FEDERATED_TOKEN_FILE"),
        authorityHost: read.optionalString("CREDMESH_CLIENT_AZURE_AUTHORITY_HOST"),
      };
  }
}
