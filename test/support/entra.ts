import type { KeyVaultEmulator } from "../emulators/keyvault/index.ts";

/**
 * Asks the emulated IMDS for a managed-identity token of the user-assigned identity `clientId`,
 * as a workload would, and returns the raw answer: 200 with a token, or Entra's refusal (e.g.
 * `AADSTS7000112` for a disabled principal).
 */
export async function managedIdentityToken(keyVault: KeyVaultEmulator, clientId: string, resource = "https://vault.azure.net"): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(keyVault.imdsEndpoint);
  url.searchParams.set("api-version", "2018-02-01");
  url.searchParams.set("resource", resource);
  url.searchParams.set("client_id", clientId);
  const response = await fetch(url, { headers: { Metadata: "true" } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
