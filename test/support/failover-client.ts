import { CreateSecretCommand, PutSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SecretClient } from "@azure/keyvault-secrets";
import type { FailoverClientOptions } from "@credmesh/client";
import { provenanceTags, toKeyVaultName } from "@credmesh/replicas";
import type { KeyVaultEmulator } from "../emulators/keyvault/index.ts";
import { ManagedProcess } from "./managed-process.ts";
import { REPO_ROOT } from "./services.ts";
import { loadTools } from "./tools.ts";

export const CLIENT_ACCOUNT = "123456789012";
export const CLIENT_REGION = "us-east-1";
export const CLIENT_ROLE_ARN = `arn:aws:iam::${CLIENT_ACCOUNT}:role/payments-app`;

/**
 * The failover client's two stores as a workload would configure them, against the local parts:
 * Secrets Manager (moto, or a proxy in front of it) with passwordless credentials — the workload's
 * managed identity (the emulator's IMDS) exchanged with STS — and the Key Vault emulator with the
 * same managed identity.
 */
export function clientStores(
  awsEndpoint: string,
  keyVault: KeyVaultEmulator,
  options: { imdsEndpoint?: string } = {},
): { aws: NonNullable<FailoverClientOptions["fallback"]>; azure: NonNullable<FailoverClientOptions["fallback"]> } {
  return {
    aws: {
      cloud: "aws",
      account: CLIENT_ACCOUNT,
      region: CLIENT_REGION,
      endpoint: awsEndpoint,
      credentials: { type: "azure-managed-identity", roleArn: CLIENT_ROLE_ARN, identityEndpoint: keyVault.imdsEndpoint, stsEndpoint: awsEndpoint },
    },
    azure: {
      cloud: "azure",
      vaultUrl: keyVault.vaultUrl,
      vaultName: "payments-kv",
      credential: { type: "managed-identity", endpoint: options.imdsEndpoint ?? keyVault.imdsEndpoint },
      caFile: keyVault.caCertPath,
      disableChallengeResourceVerification: true,
    },
  };
}

/** The rules file text of an AWS → Azure rule into the emulator, as credmesh would run with. */
export function awsToAzureRules(vaultUrl: string, prefixes: string[] = ["prod/"]): string {
  return [
    "rules:",
    "  - id: aws-to-azure",
    "    source:",
    "      cloud: aws",
    `      accounts: ["${CLIENT_ACCOUNT}"]`,
    `      regions: ["${CLIENT_REGION}"]`,
    `      namePrefixes: ${JSON.stringify(prefixes)}`,
    "    destination:",
    "      cloud: azure",
    `      vaultUrl: ${vaultUrl}`,
    "",
  ].join("\n");
}

/**
 * Writes an AWS secret and, by hand, a Key Vault copy tagged as credmesh tags it — for tests of the
 * client alone, where no replicator runs. Returns the two version ids.
 */
export async function seedPair(
  secretsManager: SecretsManagerClient,
  keyVault: SecretClient,
  name: string,
  value: string,
): Promise<{ awsVersion: string; keyVaultVersion: string; replicaName: string }> {
  const created = await secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  const awsVersion = created.VersionId ?? "";
  const replicaName = toKeyVaultName("{name}", { name });
  const tags = provenanceTags({
    origin: { cloud: "aws", account: CLIENT_ACCOUNT, region: CLIENT_REGION, name },
    version: awsVersion,
    versionCreatedAt: new Date(),
    contentHash: "not-checked-by-the-client",
    rule: "aws-to-azure",
    replicatedAt: new Date(),
  });
  const replica = await keyVault.setSecret(replicaName, value, { tags });
  return { awsVersion, keyVaultVersion: replica.properties.version ?? "", replicaName };
}

/** A new AWS version of `name`. */
export async function rotateAws(secretsManager: SecretsManagerClient, name: string, value: string): Promise<string> {
  const put = await secretsManager.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
  return put.VersionId ?? "";
}

/** One line of the example app: a read, where it came from and its keyed fingerprint, or a failure. */
export interface AppRead {
  seq: number;
  startedAt: number;
  durationMs: number;
  ok: boolean;
  read?: {
    versionId: string;
    source: "cache" | "cloud" | "stale";
    ageMs: number;
    servedBy: { role: "primary" | "fallback"; cloud: string; name: string };
    origin: { cloud: string; version?: string; replica: boolean };
    failover?: { reason: string; code?: string };
    fingerprint?: string;
  };
  failure?: { reason: string; code?: string };
}

/** Starts examples/failover-app exactly as an application team would run it: `node src/main.ts` with its environment. */
export async function startExampleApp(env: Record<string, string>): Promise<ManagedProcess> {
  const tools = loadTools();
  const app = new ManagedProcess("failover-app", tools.node, ["examples/failover-app/src/main.ts"], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
  });
  await app.waitForLine(/example app reading/, 30_000);
  return app;
}

function lines(app: ManagedProcess): Array<Record<string, unknown>> {
  return app.lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** The app's reads so far, in order. */
export function appReads(app: ManagedProcess): AppRead[] {
  return lines(app)
    .filter((line) => line.msg === "secret read" || line.msg === "secret read failed")
    .map((line) => ({ ...(line as unknown as AppRead), ok: line.msg === "secret read" }));
}

/** The client's events the app logged (`credmeshClient` fields), in order. */
export function appEvents(app: ManagedProcess): Array<{ type: string; state?: string; role?: string; reason?: string }> {
  return lines(app).flatMap((line) => (line.credmeshClient ? [line.credmeshClient as { type: string }] : []));
}

/** Waits, bounded, until `check` holds over the app's reads. */
export async function untilReads(app: ManagedProcess, what: string, check: (reads: AppRead[]) => boolean, timeoutMs = 60_000): Promise<AppRead[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reads = appReads(app);
    if (check(reads)) return reads;
    if (!app.running) throw new Error(`the example app exited before ${what}\n${app.tail()}`);
    if (Date.now() > deadline) throw new Error(`the example app did not show ${what} within ${timeoutMs} ms\n${app.tail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * One IAM Query-protocol call to moto before it enforces IAM (`INITIAL_NO_AUTH_ACTION_COUNT`): moto
 * routes by the Authorization header's credential scope and checks no signature until then, so
 * the test needs no IAM SDK to set up a role. Never usable against a real endpoint.
 */
export async function motoIamSetup(endpoint: string, action: string, params: Record<string, string>): Promise<void> {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded; charset=utf-8",
      authorization: "AWS4-HMAC-SHA256 Credential=AKIASETUP/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=unchecked",
    },
    body: new URLSearchParams({ Action: action, Version: "2010-05-08", ...params }).toString(),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`moto IAM ${action} answered ${response.status}: ${text.slice(0, 300)}`);
}
