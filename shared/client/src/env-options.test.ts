import { ConfigError } from "@credmesh/config";
import { describe, expect, it } from "vitest";
import { clientOptionsFromEnv } from "./env-options.ts";

const base = {
  CREDMESH_CLIENT_PRIMARY: "aws",
  CREDMESH_CLIENT_FALLBACK: "azure",
  CREDMESH_RULES_FILE: "/etc/credmesh/rules.yaml",
  CREDMESH_CLIENT_AWS_ACCOUNT: "123456789012",
  CREDMESH_CLIENT_AWS_REGION: "us-east-1",
  CREDMESH_CLIENT_AZURE_VAULT_URL: "https://payments-kv.vault.azure.net",
};

describe("clientOptionsFromEnv", () => {
  it("builds both stores with the SDKs' default credentials and the documented defaults", () => {
    const options = clientOptionsFromEnv(base);
    expect(options).toMatchObject({
      primary: { cloud: "aws", account: "123456789012", region: "us-east-1", credentials: { type: "default" } },
      fallback: { cloud: "azure", vaultUrl: "https://payments-kv.vault.azure.net", credential: { type: "default" } },
      rules: "/etc/credmesh/rules.yaml",
      deadlineMs: 5_000,
      cache: { ttlMs: 300_000, refreshAhead: 0.8 },
      breaker: { failures: 5, halfOpenAfterMs: 10_000 },
    });
  });

  it("reads the cells' federated identities", () => {
    const options = clientOptionsFromEnv({
      ...base,
      CREDMESH_CLIENT_AWS_CREDENTIALS: "azure-managed-identity",
      CREDMESH_CLIENT_AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/app",
      CREDMESH_CLIENT_AZURE_CREDENTIAL: "client-assertion",
      CREDMESH_CLIENT_AZURE_TENANT_ID: "t",
      CREDMESH_CLIENT_AZURE_CLIENT_ID: "c",
      CREDMESH_CLIENT_AZURE_FEDERATED_TOKEN_FILE: "/var/run/secrets/azure/tokens/azure-identity-token",
    });
    expect(options.primary).toMatchObject({ credentials: { type: "azure-managed-identity", roleArn: "arn:aws:iam::123456789012:role/app" } });
    expect(options.fallback).toMatchObject({ credential: { type: "client-assertion", tenantId: "t", clientId: "c" } });
  });

  it("turns the cache off with a TTL of 0", () => {
    expect(clientOptionsFromEnv({ ...base, CREDMESH_CLIENT_CACHE_TTL_MS: "0" }).cache).toBe(false);
  });

  it("names every bad setting at once", () => {
    let error: unknown;
    try {
      clientOptionsFromEnv({ ...base, CREDMESH_CLIENT_AWS_ACCOUNT: "12", CREDMESH_CLIENT_FALLBACK: "aws", CREDMESH_CLIENT_DEADLINE_MS: "soon" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = String((error as Error).message);
    expect(text).toContain("CREDMESH_CLIENT_AWS_ACCOUNT");
    expect(text).toContain("CREDMESH_CLIENT_FALLBACK");
    expect(text).toContain("CREDMESH_CLIENT_DEADLINE_MS");
  });
});
