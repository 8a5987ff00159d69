import { readFileSync } from "node:fs";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SecretClient } from "@azure/keyvault-secrets";
import { KeyVaultVault, SecretsManagerVault } from "@credmesh/vault";
import { afterAll, beforeAll, describe } from "vitest";
import { vaultContract } from "../../shared/vault/src/contract.test-suite.ts";
import type { KeyVaultEmulator } from "../emulators/keyvault/index.ts";
import { startKeyVault, startMoto, type MotoPart } from "../support/parts.ts";

/**
 * The vault port's contract against the real wire protocols: the Secrets Manager adapter against
 * moto, the Key Vault adapter against the Key Vault emulator, through the real SDKs — the same
 * cases the in-memory vault passes.
 */
let moto: MotoPart;
let keyVault: KeyVaultEmulator;

beforeAll(async () => {
  [moto, keyVault] = await Promise.all([startMoto(), startKeyVault()]);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([moto?.stop(), keyVault?.stop()]);
});

vaultContract(
  "SecretsManagerVault against moto",
  () =>
    new SecretsManagerVault(
      new SecretsManagerClient({
        region: "us-east-1",
        endpoint: moto.endpoint,
        // moto accepts any credentials; test-only placeholders.
        credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
        maxAttempts: 1,
      }),
    ),
  { gaps: { acceptsWritesWhileDeleted: true } },
);

// The emulator keeps the service's timing (a delete takes seconds to finish), and every case uses
// its own names: the cases run concurrently instead of waiting out each delete in turn.
describe.concurrent("with the service's timing", () => vaultContract(
  "KeyVaultVault against the Key Vault emulator",
  () =>
    new KeyVaultVault(
      new SecretClient(
        keyVault.vaultUrl,
        {
          async getToken(scopes) {
            const url = new URL(keyVault.imdsEndpoint);
            url.searchParams.set("api-version", "2018-02-01");
            url.searchParams.set("resource", String(Array.isArray(scopes) ? scopes[0] : scopes).replace(/\/\.default$/, ""));
            const body = (await (await fetch(url, { headers: { Metadata: "true" } })).json()) as { access_token: string; expires_on: string };
            return { token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000 };
          },
        },
        { disableChallengeResourceVerification: true, tlsOptions: { ca: readFileSync(keyVault.caCertPath, "utf8") }, retryOptions: { maxRetries: 0 } },
      ),
      { pollIntervalMs: 50 },
    ),
));
