import { describe, expect, it } from "vitest";
import { ConfigError, EnvReader } from "@credmesh/config";
import { readIdentityConfig } from "./identity-config.ts";

function read(env: Record<string, string>) {
  const reader = new EnvReader(env);
  const settings = readIdentityConfig(reader);
  reader.done();
  return settings;
}

function problems(env: Record<string, string>): readonly string[] {
  try {
    read(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error("expected a configuration error");
}

const CLIENT_ASSERTION = {
  CREDMESH_AZURE_TENANT_ID: "c0ffee00-0000-4000-8000-00000000000a",
  CREDMESH_AZURE_CLIENT_ID: "7f1c4a52-3e0b-4d8e-9a61-2c4b8f0e5d13",
  CREDMESH_AZURE_FEDERATED_TOKEN_FILE: "/var/run/secrets/azure/tokens/azure-identity-token",
};

describe("readIdentityConfig", () => {
  it("defaults to the managed identity for both clouds, a 5-minute STS token and 300 s of skew", () => {
    expect(read({})).toEqual({
      aws: [{ source: "azure-managed-identity", missing: [] }],
      azure: [{ source: "managed-identity", missing: [] }],
      webIdentityToken: { audience: "api://AzureADTokenExchange", durationSeconds: 300 },
      clockSkewToleranceSeconds: 300,
      rolesAnywhere: {
        trustAnchorArn: undefined,
        profileArn: undefined,
        region: undefined,
        certificateFile: undefined,
        privateKeyFile: undefined,
        trustAnchorFile: undefined,
        chainFile: undefined,
        expectedCommonName: undefined,
        endpoint: undefined,
      },
    });
  });

  it("names every Roles Anywhere setting a roles-anywhere chain of one still needs", () => {
    expect(problems({ CREDMESH_AWS_IDENTITY: "roles-anywhere", CREDMESH_AWS_ROLES_ANYWHERE_EXPECTED_CN: "cell-1" })).toEqual([
      "CREDMESH_AWS_IDENTITY=roles-anywhere needs CREDMESH_AWS_ROLES_ANYWHERE_TRUST_ANCHOR_ARN, CREDMESH_AWS_ROLES_ANYWHERE_PROFILE_ARN, CREDMESH_AWS_ROLES_ANYWHERE_CERTIFICATE_FILE, CREDMESH_AWS_ROLES_ANYWHERE_PRIVATE_KEY_FILE, CREDMESH_AWS_ROLES_ANYWHERE_TRUST_ANCHOR_FILE",
    ]);
  });

  it("keeps a single value valid: a chain of one, whose settings are then required", () => {
    expect(read({ CREDMESH_AWS_IDENTITY: "web-identity-token-file", CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE: "/var/run/token" }).aws).toEqual([
      { source: "web-identity-token-file", missing: [] },
    ]);
    expect(problems({ CREDMESH_AWS_IDENTITY: "web-identity-token-file" })).toEqual([
      "CREDMESH_AWS_IDENTITY=web-identity-token-file needs CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE",
    ]);
    expect(problems({ CREDMESH_AZURE_IDENTITY: "client-assertion", CREDMESH_AZURE_TENANT_ID: "t" })).toEqual([
      "CREDMESH_AZURE_IDENTITY=client-assertion needs CREDMESH_AZURE_CLIENT_ID, CREDMESH_AZURE_FEDERATED_TOKEN_FILE",
    ]);
    expect(problems({ CREDMESH_AZURE_IDENTITY: "aws-web-identity-token" })).toEqual([
      "CREDMESH_AZURE_IDENTITY=aws-web-identity-token needs CREDMESH_AZURE_TENANT_ID, CREDMESH_AZURE_CLIENT_ID",
    ]);
  });

  it("reads ordered chains, and marks the sources this deployment does not configure", () => {
    const config = read({
      CREDMESH_AWS_IDENTITY: "web-identity-token-file, azure-managed-identity",
      CREDMESH_AZURE_IDENTITY: "client-assertion,aws-web-identity-token,managed-identity",
      CREDMESH_AZURE_TENANT_ID: CLIENT_ASSERTION.CREDMESH_AZURE_TENANT_ID,
      CREDMESH_AZURE_CLIENT_ID: CLIENT_ASSERTION.CREDMESH_AZURE_CLIENT_ID,
    });
    expect(config.aws).toEqual([
      { source: "web-identity-token-file", missing: ["CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE"] },
      { source: "azure-managed-identity", missing: [] },
    ]);
    expect(config.azure).toEqual([
      { source: "client-assertion", missing: ["CREDMESH_AZURE_FEDERATED_TOKEN_FILE"] },
      { source: "aws-web-identity-token", missing: [] },
      { source: "managed-identity", missing: [] },
    ]);
  });

  it("refuses a chain in which no source is configured, naming what each needs", () => {
    expect(problems({ CREDMESH_AZURE_IDENTITY: "client-assertion,aws-web-identity-token" })).toEqual([
      'CREDMESH_AZURE_IDENTITY="client-assertion,aws-web-identity-token": no source is configured ' +
        "(client-assertion needs CREDMESH_AZURE_TENANT_ID, CREDMESH_AZURE_CLIENT_ID, CREDMESH_AZURE_FEDERATED_TOKEN_FILE; " +
        "aws-web-identity-token needs CREDMESH_AZURE_TENANT_ID, CREDMESH_AZURE_CLIENT_ID)",
    ]);
  });

  it("refuses unknown and repeated sources", () => {
    expect(problems({ CREDMESH_AWS_IDENTITY: "static-keys,azure-managed-identity,azure-managed-identity" })).toEqual([
      'CREDMESH_AWS_IDENTITY="static-keys,azure-managed-identity,azure-managed-identity": "static-keys" is not a source; use azure-managed-identity, web-identity-token-file, roles-anywhere (in order of preference, comma-separated)',
      'CREDMESH_AWS_IDENTITY="static-keys,azure-managed-identity,azure-managed-identity" lists azure-managed-identity twice',
    ]);
  });

  it("reads the STS token settings and the skew tolerance within their bounds", () => {
    expect(
      read({
        ...CLIENT_ASSERTION,
        CREDMESH_AZURE_IDENTITY: "aws-web-identity-token",
        CREDMESH_AWS_WEB_IDENTITY_TOKEN_AUDIENCE: "api://credmesh-prod",
        CREDMESH_AWS_WEB_IDENTITY_TOKEN_DURATION_SECONDS: "900",
        CREDMESH_IDENTITY_CLOCK_SKEW_TOLERANCE_SECONDS: "60",
      }),
    ).toMatchObject({ webIdentityToken: { audience: "api://credmesh-prod", durationSeconds: 900 }, clockSkewToleranceSeconds: 60 });
    expect(problems({ CREDMESH_AWS_WEB_IDENTITY_TOKEN_DURATION_SECONDS: "30", CREDMESH_IDENTITY_CLOCK_SKEW_TOLERANCE_SECONDS: "301" })).toEqual([
      'CREDMESH_AWS_WEB_IDENTITY_TOKEN_DURATION_SECONDS="30" must be an integer between 60 and 3600',
      'CREDMESH_IDENTITY_CLOCK_SKEW_TOLERANCE_SECONDS="301" must be an integer between 0 and 300',
    ]);
  });
});
