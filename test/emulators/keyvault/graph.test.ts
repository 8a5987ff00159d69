/**
 * The emulator's Microsoft Graph slice and Entra's refusal of a disabled principal, over raw HTTPS:
 * `PATCH /v1.0/servicePrincipals/{id}` (and by appId) with `accountEnabled`, Graph's error shapes,
 * the application permission it needs, and AADSTS7000112 from the token endpoints (IMDS and the
 * client-credentials endpoint) while the principal is disabled.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKeyVaultEmulator } from "./emulator.ts";
import type { KeyVaultEmulator } from "./emulator.ts";
import { managedIdentityToken } from "../../support/entra.ts";
import { httpsJson } from "./test-client.ts";

const CELL_APP = "4d2c1a90-1111-4000-8000-0000000000c1";
const WATCHER_APP = "4d2c1a90-2222-4000-8000-0000000000f1";

describe("Microsoft Graph service principals and disabled principals", () => {
  let emulator: KeyVaultEmulator;
  let ca: Buffer;
  let cellObjectId: string;

  beforeAll(async () => {
    emulator = await startKeyVaultEmulator();
    ca = readFileSync(emulator.caCertPath);
    cellObjectId = emulator.registerServicePrincipal(CELL_APP, "credmesh cell e2e-azure-1").objectId;
    emulator.grantGraphRole(WATCHER_APP, "Application.ReadWrite.All");
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  const imdsToken = (resource: string, clientId: string) => managedIdentityToken(emulator, clientId, resource);

  async function graph(method: string, path: string, token: string | undefined, body?: unknown) {
    return httpsJson(`${emulator.vaultUrl}${path}`, {
      ca,
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  it("disables a service principal by object id, and Entra then refuses it a token with AADSTS7000112", async () => {
    const watcher = await imdsToken("https://graph.microsoft.com", WATCHER_APP);
    expect(watcher.status).toBe(200);
    const token = String(watcher.body.access_token);
    expect(JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString())).toMatchObject({ roles: ["Application.ReadWrite.All"], aud: "https://graph.microsoft.com" });

    expect((await imdsToken("https://vault.azure.net", CELL_APP)).status).toBe(200);
    expect((await graph("PATCH", `/v1.0/servicePrincipals/${cellObjectId}`, token, { accountEnabled: false })).status).toBe(204);
    expect((await graph("GET", `/v1.0/servicePrincipals(appId='${CELL_APP}')`, token)).body).toMatchObject({ id: cellObjectId, appId: CELL_APP, accountEnabled: false });

    const refused = await imdsToken("https://vault.azure.net", CELL_APP);
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({ error: "unauthorized_client", error_description: `AADSTS7000112: Application '${CELL_APP}'(credmesh cell e2e-azure-1) is disabled.` });

    expect((await graph("PATCH", `/v1.0/servicePrincipals(appId='${CELL_APP}')`, token, { accountEnabled: true })).status).toBe(204);
    expect((await imdsToken("https://vault.azure.net", CELL_APP)).status).toBe(200);
    expect(emulator.requestLog().filter((entry) => entry.operation === "UpdateServicePrincipal").map((entry) => entry.status)).toEqual([204, 204]);
  });

  it("answers Graph's errors: no token, a token for another resource, no permission, unknown principal, bad body", async () => {
    expect((await graph("PATCH", `/v1.0/servicePrincipals/${cellObjectId}`, undefined, { accountEnabled: false })).body).toMatchObject({ error: { code: "InvalidAuthenticationToken" } });
    const vaultToken = String((await imdsToken("https://vault.azure.net", WATCHER_APP)).body.access_token);
    expect((await graph("PATCH", `/v1.0/servicePrincipals/${cellObjectId}`, vaultToken, { accountEnabled: false })).status).toBe(401);
    const unprivileged = String((await imdsToken("https://graph.microsoft.com", CELL_APP)).body.access_token);
    const denied = await graph("PATCH", `/v1.0/servicePrincipals/${cellObjectId}`, unprivileged, { accountEnabled: false });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } });
    const token = String((await imdsToken("https://graph.microsoft.com", WATCHER_APP)).body.access_token);
    expect((await graph("PATCH", "/v1.0/servicePrincipals/00000000-0000-4000-8000-000000000000", token, { accountEnabled: false })).body).toMatchObject({ error: { code: "Request_ResourceNotFound" } });
    expect((await graph("PATCH", `/v1.0/servicePrincipals/${cellObjectId}`, token, { accountEnabled: "no" })).status).toBe(400);
    expect(emulator.servicePrincipals().find((principal) => principal.appId === CELL_APP)?.accountEnabled).toBe(true);
  });
});
