import { readFileSync } from "node:fs";
import { SecretClient } from "@azure/keyvault-secrets";

/**
 * The unmodified Azure SDK's SecretClient against the emulated Key Vault, as an application with a
 * managed identity uses it: tokens from the emulator's IMDS endpoint, TLS trusting its CA.
 */
export function keyVaultClientFor(vaultUrl: string, imdsEndpoint: string, caCertPath: string): SecretClient {
  return new SecretClient(
    vaultUrl,
    {
      async getToken(scopes) {
        const scope = (Array.isArray(scopes) ? scopes[0] : scopes) ?? "";
        const url = new URL(imdsEndpoint);
        url.searchParams.set("api-version", "2018-02-01");
        url.searchParams.set("resource", scope.replace(/\/\.default$/, ""));
        const response = await fetch(url, { headers: { Metadata: "true" } });
        const body = (await response.json()) as { access_token: string; expires_on: string };
        return { token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000 };
      },
    },
    { disableChallengeResourceVerification: true, tlsOptions: { ca: readFileSync(caCertPath, "utf8") } },
  );
}
