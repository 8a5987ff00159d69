import { parseRules } from "@credmesh/config";
import { toKeyVaultName } from "@credmesh/replicas";
import { describe, expect, it } from "vitest";
import { routeFor, sameVaultUrl, vaultNameOf, type StoreRef } from "./routes.ts";

const aws: StoreRef = { cloud: "aws", account: "123456789012", region: "us-east-1" };
const azure: StoreRef = { cloud: "azure", vaultUrl: "https://payments-kv.vault.azure.net", vaultName: "payments-kv" };

const rules = parseRules(`
rules:
  - id: payments-to-azure
    source: { cloud: aws, accounts: ["123456789012"], regions: ["us-east-1"], namePrefixes: ["prod/payments/"] }
    destination: { cloud: azure, vaultUrl: "https://payments-kv.vault.azure.net/", nameTemplate: "{name}" }
  - id: billing-elsewhere
    source: { cloud: aws, accounts: ["123456789012"], regions: ["us-east-1"], namePrefixes: ["prod/"] }
    destination: { cloud: azure, vaultUrl: "https://other-kv.vault.azure.net" }
  - id: kv-to-aws
    source: { cloud: azure, vaults: ["Payments-KV"], namePrefixes: ["app-"] }
    destination: { cloud: aws, account: "123456789012", region: "us-east-1", nameTemplate: "from-azure/{vault}/{name}" }
`);

describe("routeFor", () => {
  it("maps an AWS origin to its Key Vault replica with the replicator's own mapping", () => {
    const route = routeFor("prod/payments/db-password", rules, aws, azure);
    expect(route).toMatchObject({
      rule: "payments-to-azure",
      origin: { cloud: "aws", account: "123456789012", region: "us-east-1", name: "prod/payments/db-password" },
      primaryName: "prod/payments/db-password",
      fallbackName: toKeyVaultName("{name}", { name: "prod/payments/db-password" }),
    });
    expect(route.fallbackName).toMatch(/^prod-payments-db-password-h[0-9a-f]{10}$/);
  });

  it("swaps the names when the workload reads the replica first", () => {
    const route = routeFor("prod/payments/db-password", rules, azure, aws);
    expect(route.primaryName).toMatch(/^prod-payments-db-password-h/);
    expect(route.fallbackName).toBe("prod/payments/db-password");
    expect(route.origin.cloud).toBe("aws");
  });

  it("maps a Key Vault origin to its Secrets Manager replica, vault compared case-insensitively", () => {
    const route = routeFor("app-api-key", rules, aws, azure);
    expect(route).toMatchObject({
      rule: "kv-to-aws",
      origin: { cloud: "azure", vault: "payments-kv", name: "app-api-key" },
      primaryName: "from-azure/payments-kv/app-api-key",
      fallbackName: "app-api-key",
    });
  });

  it("has no fallback when the rule that owns the secret writes to another vault", () => {
    const route = routeFor("prod/billing/token", rules, aws, azure);
    expect(route.fallbackName).toBeUndefined();
    expect(route.primaryName).toBe("prod/billing/token");
  });

  it("has no fallback for a name no rule covers, nor without a fallback store", () => {
    expect(routeFor("dev/x", rules, aws, azure).fallbackName).toBeUndefined();
    expect(routeFor("prod/payments/db-password", rules, aws, undefined).fallbackName).toBeUndefined();
  });
});

describe("vault URLs", () => {
  it("compare by origin, ignoring case and a trailing slash", () => {
    expect(sameVaultUrl("https://Payments-KV.vault.azure.net/", "https://payments-kv.vault.azure.net")).toBe(true);
    expect(sameVaultUrl("https://a.vault.azure.net", "https://b.vault.azure.net")).toBe(false);
    expect(sameVaultUrl("not a url", "https://b.vault.azure.net")).toBe(false);
  });

  it("name the vault by the first label of the host", () => {
    expect(vaultNameOf("https://payments-kv.vault.azure.net/")).toBe("payments-kv");
  });
});
