import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SecretClient } from "@azure/keyvault-secrets";
import { FailoverClient, Registry } from "@credmesh/client";
import { parseRules } from "@credmesh/config";
import { ManagedIdentityTokenSource, managedIdentityCredential } from "@credmesh/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKeyVaultEmulator, type KeyVaultEmulator } from "../emulators/keyvault/index.ts";
import { CLIENT_ROLE_ARN, awsToAzureRules, clientStores, motoIamSetup, seedPair } from "../support/failover-client.ts";
import { startKeyVault, startMoto, type MotoPart } from "../support/parts.ts";
import { startRecordingProxy, type RecordingProxy } from "../support/recording-proxy.ts";

/**
 * The failover client against the real wire protocols: moto (Secrets Manager and STS, behind a
 * recording proxy that counts the client's calls) and the Key Vault emulator (which counts its own).
 * The pairs are written by the test here; test/e2e/failover-client.e2e.test.ts runs the same client
 * with credmesh replicating and the primary's process killed.
 */
let moto: MotoPart;
let keyVault: KeyVaultEmulator;
let proxy: RecordingProxy;
let secretsManager: SecretsManagerClient;
let vault: SecretClient;

const secretsManagerCalls = (): number => proxy.requests.filter((request) => request.action.startsWith("secretsmanager.")).length;
const keyVaultReads = (): number => keyVault.stats()["GetSecret"] ?? 0;

beforeAll(async () => {
  [moto, keyVault] = await Promise.all([startMoto(), startKeyVault()]);
  proxy = await startRecordingProxy(moto.endpoint);
  // The test's own clients, to write the secrets (moto accepts any credentials).
  secretsManager = new SecretsManagerClient({ region: "us-east-1", endpoint: moto.endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
  vault = new SecretClient(keyVault.vaultUrl, managedIdentityCredential(new ManagedIdentityTokenSource({ endpoint: keyVault.imdsEndpoint })), {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: readFileSync(keyVault.caCertPath, "utf8") },
  });
}, 120_000);

afterAll(async () => {
  secretsManager?.destroy();
  await Promise.allSettled([proxy?.stop(), moto?.stop(), keyVault?.stop()]);
});

function clientFor(primary: "aws" | "azure", extra: { imdsEndpoint?: string; registry?: Registry } = {}): FailoverClient {
  const stores = clientStores(proxy.endpoint, keyVault, extra.imdsEndpoint ? { imdsEndpoint: extra.imdsEndpoint } : {});
  return new FailoverClient({
    primary: primary === "aws" ? stores.aws : stores.azure,
    fallback: primary === "aws" ? stores.azure : stores.aws,
    rules: parseRules(awsToAzureRules(keyVault.vaultUrl)),
    deadlineMs: 20_000,
    attemptTimeoutMs: 10_000,
    ...(extra.registry ? { metrics: { registry: extra.registry } } : {}),
  });
}

describe("single flight against the real clouds", () => {
  it("100 concurrent reads of a cold name make one Secrets Manager call", async () => {
    const name = `prod/cold/${randomBytes(4).toString("hex")}`;
    const value = randomBytes(16).toString("base64url");
    const { awsVersion } = await seedPair(secretsManager, vault, name, value);
    const client = clientFor("aws");
    const before = secretsManagerCalls();
    const reads = await Promise.all(Array.from({ length: 100 }, () => client.get(name)));
    expect(secretsManagerCalls() - before).toBe(1);
    expect(proxy.requests.filter((request) => request.action === "secretsmanager.GetSecretValue").length).toBeGreaterThanOrEqual(1);
    expect(reads.every((read) => read.value.reveal() === value && read.versionId === awsVersion && read.servedBy.role === "primary")).toBe(true);
    client.close();
  });

  it("100 concurrent reads of a cold name make one Key Vault call", async () => {
    const name = `prod/cold/${randomBytes(4).toString("hex")}`;
    const value = randomBytes(16).toString("base64url");
    const { keyVaultVersion, awsVersion } = await seedPair(secretsManager, vault, name, value);
    const client = clientFor("azure");
    const before = keyVaultReads();
    const reads = await Promise.all(Array.from({ length: 100 }, () => client.get(name)));
    expect(keyVaultReads() - before).toBe(1);
    for (const read of reads) {
      expect(read.value.reveal()).toBe(value);
      expect(read).toMatchObject({ versionId: keyVaultVersion, servedBy: { role: "primary", cloud: "azure" }, origin: { cloud: "aws", version: awsVersion, replica: true } });
    }
    client.close();
  });
});

describe("a quarantined cell does not escape through the replica", () => {
  it("Key Vault refuses the cell's token: the read fails and Secrets Manager is never asked", async () => {
    const name = `prod/quarantined/${randomBytes(4).toString("hex")}`;
    await seedPair(secretsManager, vault, name, randomBytes(16).toString("base64url"));
    // The cell's identity is one the vault no longer trusts: tokens from another tenant's issuer.
    const elsewhere = await startKeyVaultEmulator({ tenantId: "0ddba110-0000-4000-8000-00000000000b" });
    try {
      const registry = new Registry();
      const client = clientFor("azure", { imdsEndpoint: elsewhere.imdsEndpoint, registry });
      const rejectedBefore = keyVault.stats()["BearerRejected"] ?? 0;
      const awsBefore = secretsManagerCalls();
      await expect(client.get(name)).rejects.toMatchObject({ reason: "unauthenticated", status: 401 });
      await expect(client.get(name)).rejects.toMatchObject({ reason: "unauthenticated" });
      expect((keyVault.stats()["BearerRejected"] ?? 0) - rejectedBefore).toBeGreaterThanOrEqual(2);
      expect(secretsManagerCalls() - awsBefore).toBe(0);
      expect(client.breakerStates().primary).toBe("closed");
      expect(await registry.metrics()).not.toContain("credmesh_client_failovers_total{");
      client.close();
    } finally {
      await elsewhere.stop();
    }
  });

  it("Secrets Manager denies the cell (an explicit Deny on its role, as the quarantine policy does): the read fails and Key Vault is never asked", async () => {
    // A moto of its own that enforces IAM policies after the setup's requests: the role and its
    // policies (2 IAM calls), the secret (1), the client's STS AssumeRoleWithWebIdentity (1).
    const guarded = await startMoto({ env: { INITIAL_NO_AUTH_ACTION_COUNT: "4" } });
    const guardedProxy = await startRecordingProxy(guarded.endpoint);
    const writer = new SecretsManagerClient({ region: "us-east-1", endpoint: guarded.endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
    try {
      const roleName = CLIENT_ROLE_ARN.split("/")[1] ?? "";
      const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Federated: "https://login.microsoftonline.com" }, Action: "sts:AssumeRoleWithWebIdentity" }] };
      await motoIamSetup(guarded.endpoint, "CreateRole", { RoleName: roleName, AssumeRolePolicyDocument: JSON.stringify(trust) });
      const quarantine = {
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], Resource: "*" },
          { Sid: "CredmeshQuarantine", Effect: "Deny", Action: "*", Resource: "*" },
        ],
      };
      await motoIamSetup(guarded.endpoint, "PutRolePolicy", { RoleName: roleName, PolicyName: "credmesh-quarantine", PolicyDocument: JSON.stringify(quarantine) });
      const name = `prod/quarantined/${randomBytes(4).toString("hex")}`;
      await writer.send(new CreateSecretCommand({ Name: name, SecretString: randomBytes(16).toString("base64url") }));
      const stores = clientStores(guardedProxy.endpoint, keyVault);
      const client = new FailoverClient({ primary: stores.aws, fallback: stores.azure, rules: parseRules(awsToAzureRules(keyVault.vaultUrl)), deadlineMs: 20_000, attemptTimeoutMs: 10_000 });
      const before = keyVaultReads();
      await expect(client.get(name)).rejects.toMatchObject({ reason: "access_denied", status: 403 });
      await expect(client.get(name)).rejects.toMatchObject({ reason: "access_denied" });
      expect(keyVaultReads() - before).toBe(0);
      // What moto answered, counted outside the client: two refusals, nothing else asked of it.
      expect(guardedProxy.requests.filter((request) => request.action.startsWith("secretsmanager.")).map((request) => [request.action, request.status])).toEqual([
        ["secretsmanager.GetSecretValue", 403],
        ["secretsmanager.GetSecretValue", 403],
      ]);
      client.close();
    } finally {
      writer.destroy();
      await guardedProxy.stop();
      await guarded.stop();
    }
  });

  it("Secrets Manager answers not found: the read fails and Key Vault is never asked", async () => {
    const name = `prod/missing/${randomBytes(4).toString("hex")}`;
    const client = clientFor("aws");
    const before = keyVaultReads();
    await expect(client.get(name)).rejects.toMatchObject({ reason: "not_found", code: "ResourceNotFoundException" });
    expect(keyVaultReads() - before).toBe(0);
    client.close();
  });
});
