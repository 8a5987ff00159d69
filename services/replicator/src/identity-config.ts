import type { EnvReader } from "@credmesh/config";
import { AZURE_TOKEN_EXCHANGE_AUDIENCE, DEFAULT_CLOCK_SKEW_TOLERANCE_SECONDS, WEB_IDENTITY_TOKEN_DURATION } from "@credmesh/identity";

/**
 * How a cell may obtain AWS credentials, always without a stored key: STS
 * AssumeRoleWithWebIdentity with the Azure managed identity's token (cells in Azure) or with a
 * projected web identity token file (cells in AWS, e.g. EKS IRSA); or IAM Roles Anywhere
 * CreateSession signed with the cell's X.509 certificate (cells anywhere with a private CA).
 */
export const AWS_IDENTITY_SOURCES = ["azure-managed-identity", "web-identity-token-file", "roles-anywhere"] as const;
export type AwsIdentitySource = (typeof AWS_IDENTITY_SOURCES)[number];

/**
 * How a cell may obtain Key Vault tokens: its managed identity (IMDS; cells in Azure), or a
 * federated client assertion exchanged at Entra — read from a projected token file
 * (`client-assertion`) or minted by STS GetWebIdentityToken with the cell's AWS credentials
 * (`aws-web-identity-token`, AWS outbound identity federation).
 */
export const AZURE_IDENTITY_SOURCES = ["managed-identity", "client-assertion", "aws-web-identity-token"] as const;
export type AzureIdentitySource = (typeof AZURE_IDENTITY_SOURCES)[number];

/**
 * One entry of a credential chain. `missing` lists the settings the source needs and this
 * deployment does not set; such a source is skipped as unavailable at run time (one configuration
 * can then serve cells in different places). A chain in which no source is configured is refused
 * at boot.
 */
export interface ChainEntry<S extends string> {
  readonly source: S;
  readonly missing: readonly string[];
}

/** The identity settings of a replicator cell, resolved at boot. */
export interface IdentityConfig {
  /** `CREDMESH_AWS_IDENTITY`: AWS credential sources, tried in order. */
  aws: readonly ChainEntry<AwsIdentitySource>[];
  /** `CREDMESH_AZURE_IDENTITY`: Key Vault credential sources, tried in order. */
  azure: readonly ChainEntry<AzureIdentitySource>[];
  /** STS GetWebIdentityToken settings of the `aws-web-identity-token` source. */
  webIdentityToken: { audience: string; durationSeconds: number };
  /** Tokens whose issued-at is further than this from the local clock are refused before use. */
  clockSkewToleranceSeconds: number;
  /** IAM Roles Anywhere settings of the `roles-anywhere` source (files are re-read when rotated). */
  rolesAnywhere: {
    trustAnchorArn: string | undefined;
    profileArn: string | undefined;
    region: string | undefined;
    certificateFile: string | undefined;
    privateKeyFile: string | undefined;
    trustAnchorFile: string | undefined;
    chainFile: string | undefined;
    expectedCommonName: string | undefined;
    endpoint: string | undefined;
  };
}

/** The settings each source needs (all of them), by variable name. */
const AWS_NEEDS: Readonly<Record<AwsIdentitySource, readonly string[]>> = {
  "azure-managed-identity": [],
  "web-identity-token-file": ["CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE"],
  "roles-anywhere": [
    "CREDMESH_AWS_ROLES_ANYWHERE_TRUST_ANCHOR_ARN",
    "CREDMESH_AWS_ROLES_ANYWHERE_PROFILE_ARN",
    "CREDMESH_AWS_ROLES_ANYWHERE_CERTIFICATE_FILE",
    "CREDMESH_AWS_ROLES_ANYWHERE_PRIVATE_KEY_FILE",
    "CREDMESH_AWS_ROLES_ANYWHERE_TRUST_ANCHOR_FILE",
    "CREDMESH_AWS_ROLES_ANYWHERE_EXPECTED_CN",
  ],
};
const AZURE_NEEDS: Readonly<Record<AzureIdentitySource, readonly string[]>> = {
  "managed-identity": [],
  "client-assertion": ["CREDMESH_AZURE_TENANT_ID", "CREDMESH_AZURE_CLIENT_ID", "CREDMESH_AZURE_FEDERATED_TOKEN_FILE"],
  "aws-web-identity-token": ["CREDMESH_AZURE_TENANT_ID", "CREDMESH_AZURE_CLIENT_ID"],
};

/**
 * Reads the identity settings of a replicator cell (README "Configuration reference").
 * `CREDMESH_AWS_IDENTITY` and `CREDMESH_AZURE_IDENTITY` take an ordered, comma-separated list of
 * sources; a single value, as before, is a chain of one, and its settings are then required.
 */
export function readIdentityConfig(read: EnvReader): IdentityConfig {
  const aws = readChain(read, "CREDMESH_AWS_IDENTITY", AWS_IDENTITY_SOURCES, "azure-managed-identity", AWS_NEEDS);
  const azure = readChain(read, "CREDMESH_AZURE_IDENTITY", AZURE_IDENTITY_SOURCES, "managed-identity", AZURE_NEEDS);
  return {
    aws,
    azure,
    webIdentityToken: {
      audience: read.string("CREDMESH_AWS_WEB_IDENTITY_TOKEN_AUDIENCE", { default: AZURE_TOKEN_EXCHANGE_AUDIENCE }),
      durationSeconds: read.int("CREDMESH_AWS_WEB_IDENTITY_TOKEN_DURATION_SECONDS", {
        default: WEB_IDENTITY_TOKEN_DURATION.default,
        min: WEB_IDENTITY_TOKEN_DURATION.min,
        max: WEB_IDENTITY_TOKEN_DURATION.max,
      }),
    },
    rolesAnywhere: {
      trustAnchorArn: read.optionalString("CREDMESH_AWS_ROLES_ANYWHERE_TRUST_ANCHOR_ARN"),
      profileArn: read.optionalString("CREDMESH_AWS_ROLES_ANYWHERE_PROFILE_ARN"),
      region: read.optionalString("CREDMESH_AWS_ROLES_ANYWHERE_REGION"),
      certificateFile: read.optionalString("CREDMESH_AWS_ROLES_ANYWHERE_CERTIFICATE_FILE"),
      privateKeyFile: read.optionalString("CREDMESH_AWS_ROLES_ANYWHERE_PRIVATE_KEY_FILE"),
      trustAnchorFile: read.optionalString("CREDMESH_AWS_ROLES_ANYWHERE_TRUST_ANCHOR_FILE"),
      chainFile: read.optionalString("CREDMESH_AWS_ROLES_ANYWHERE_CHAIN_FILE"),
      expectedCommonName: read.optionalString("CREDMESH_AWS_ROLES_ANYWHERE_EXPECTED_CN"),
      endpoint: read.optionalString("CREDMESH_AWS_ROLES_ANYWHERE_ENDPOINT"),
    },
    clockSkewToleranceSeconds: read.int("CREDMESH_IDENTITY_CLOCK_SKEW_TOLERANCE_SECONDS", {
      default: DEFAULT_CLOCK_SKEW_TOLERANCE_SECONDS,
      min: 0,
      max: DEFAULT_CLOCK_SKEW_TOLERANCE_SECONDS,
    }),
  };
}

function readChain<S extends string>(
  read: EnvReader,
  name: string,
  allowed: readonly S[],
  fallback: S,
  needs: Readonly<Record<S, readonly string[]>>,
): ChainEntry<S>[] {
  const listed = read.list(name, [fallback]);
  const sources: S[] = [];
  for (const item of listed) {
    if (!(allowed as readonly string[]).includes(item)) {
      read.problem(`${name}="${listed.join(",")}": "${item}" is not a source; use ${allowed.join(", ")} (in order of preference, comma-separated)`);
    } else if (sources.includes(item as S)) {
      read.problem(`${name}="${listed.join(",")}" lists ${item} twice`);
    } else {
      sources.push(item as S);
    }
  }
  if (sources.length === 0) return [{ source: fallback, missing: [] }];
  const chain = sources.map((source) => ({ source, missing: needs[source].filter((setting) => read.optionalString(setting) === undefined) }));
  const [only] = chain;
  if (chain.length === 1 && only !== undefined && only.missing.length > 0) {
    read.problem(`${name}=${only.source} needs ${only.missing.join(", ")}`);
  } else if (chain.every((entry) => entry.missing.length > 0)) {
    read.problem(
      `${name}="${sources.join(",")}": no source is configured (${chain.map((entry) => `${entry.source} needs ${entry.missing.join(", ")}`).join("; ")})`,
    );
  }
  return chain;
}
