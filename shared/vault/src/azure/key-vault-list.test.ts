import { createHttpHeaders, type HttpClient, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import { SecretClient } from "@azure/keyvault-secrets";
import { describe, expect, it } from "vitest";
import { createLogger } from "@credmesh/logging";
import type { ListedSecret, ListOptions } from "../port.ts";
import { KeyVaultVault } from "./key-vault-vault.ts";

const VAULT_URL = "https://payments.vault.azure.net";
const ctx = { logger: createLogger({ service: "test", level: "silent" }) };

/** Key Vault's wire format for list pages: `value` plus `nextLink` (null on the last page). */
type Route = (url: URL) => { status: number; body: unknown; headers?: Record<string, string> };

/** An HttpClient that answers the authentication challenge, then routes GETs by path, recording them. */
function fakeKeyVault(route: Route, seen: URL[]): HttpClient {
  return {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      if (!request.headers.get("authorization")) {
        return {
          request,
          status: 401,
          headers: createHttpHeaders({
            "www-authenticate": 'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"',
          }),
          bodyAsText: "",
        };
      }
      const url = new URL(request.url);
      seen.push(url);
      const { status, body, headers = {} } = route(url);
      return { request, status, headers: createHttpHeaders({ "content-type": "application/json; charset=utf-8", ...headers }), bodyAsText: JSON.stringify(body) };
    },
  };
}

function vault(route: Route): { vault: KeyVaultVault; seen: URL[] } {
  const seen: URL[] = [];
  const credential = { getToken: async () => ({ token: "fake-access-token", expiresOnTimestamp: Date.now() + 3_600_000 }) };
  const client = new SecretClient(VAULT_URL, credential, { httpClient: fakeKeyVault(route, seen), retryOptions: { maxRetries: 0 } });
  return { vault: new KeyVaultVault(client), seen };
}

async function collect(kv: KeyVaultVault, options: ListOptions = {}): Promise<ListedSecret[]> {
  const listed: ListedSecret[] = [];
  for await (const secret of kv.list(ctx, options)) listed.push(secret);
  return listed;
}

const item = (name: string, extra: Record<string, unknown> = {}) => ({
  id: `${VAULT_URL}/secrets/${name}`,
  attributes: { enabled: true, created: 1_748_779_200, updated: 1_748_779_200, recoveryLevel: "Recoverable+Purgeable" },
  ...extra,
});

describe("KeyVaultVault.list over the real SecretClient", () => {
  it("pages through secrets, then deleted secrets, with current-version tags and no version id", async () => {
    const { vault: kv, seen } = vault((url) => {
      if (url.pathname === "/secrets" && !url.searchParams.has("$skiptoken")) {
        return { status: 200, body: { value: [item("Prod-A", { tags: { "managed-by": "credmesh" } })], nextLink: `${VAULT_URL}/secrets?api-version=7.6&$skiptoken=abc&maxresults=2` } };
      }
      if (url.pathname === "/secrets") return { status: 200, body: { value: [item("prod-b"), item("cert-backing", { managed: true })], nextLink: null } };
      if (url.pathname === "/deletedsecrets") {
        return {
          status: 200,
          body: {
            value: [{ ...item("prod-c", { tags: { "managed-by": "credmesh" } }), recoveryId: `${VAULT_URL}/deletedsecrets/prod-c`, deletedDate: 1_748_865_600, scheduledPurgeDate: 1_756_641_600 }],
            nextLink: null,
          },
        };
      }
      return { status: 404, body: { error: { code: "NotFound", message: "no route" } } };
    });
    const listed = await collect(kv, { pageSize: 2 });
    expect(listed.map(({ name, state, tags, currentVersionId }) => ({ name, state, tags, currentVersionId }))).toStrictEqual([
      { name: "Prod-A", state: "active", tags: { "managed-by": "credmesh" }, currentVersionId: undefined },
      { name: "prod-b", state: "active", tags: {}, currentVersionId: undefined },
      { name: "prod-c", state: "deleted", tags: { "managed-by": "credmesh" }, currentVersionId: undefined },
    ]);
    expect(listed[0]?.createdAt).toEqual(new Date(1_748_779_200_000));
    expect(listed[2]?.deletedAt).toEqual(new Date(1_748_865_600_000));
    expect(seen[0]?.searchParams.get("maxresults")).toBe("2");
    expect(seen.map((url) => url.pathname)).toEqual(["/secrets", "/secrets", "/deletedsecrets"]);
  });

  it("matches the prefix case-insensitively and can leave deleted secrets out", async () => {
    const { vault: kv, seen } = vault(() => ({ status: 200, body: { value: [item("Prod-A"), item("other")], nextLink: null } }));
    expect((await collect(kv, { namePrefix: "PROD-", includeDeleted: false })).map((secret) => secret.name)).toEqual(["Prod-A"]);
    expect(seen.map((url) => url.pathname)).toEqual(["/secrets"]);
  });

  it("fails the listing with the classified error of a throttled page, honouring Retry-After", async () => {
    const { vault: kv } = vault(() => ({
      status: 429,
      body: { error: { code: "Throttled", message: "Request was not processed because too many requests were received." } },
      headers: { "retry-after": "9" },
    }));
    await expect(collect(kv)).rejects.toMatchObject({ reason: "throttled", retryable: true, retryAfterMs: 9_000 });
  });
});
