import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import { ManagedIdentityTokenSource, managedIdentityCredential } from "./managed-identity.ts";

const TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.SECRET-ACCESS-TOKEN.signature";
const EXPIRES_ON = 1_900_000_000;

interface Seen {
  method: string | undefined;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

interface Reply {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

const ok = (resource: string): Reply => ({
  status: 200,
  body: JSON.stringify({ access_token: TOKEN, expires_on: String(EXPIRES_ON), resource, token_type: "Bearer" }),
});

/** A stand-in for the IMDS token endpoint on 127.0.0.1 that records requests and answers from a queue. */
describe("ManagedIdentityTokenSource", () => {
  let server: Server;
  let endpoint: string;
  const seen: Seen[] = [];
  let replies: Reply[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const url = new URL(request.url ?? "/", "http://127.0.0.1");
      seen.push({ method: request.method, path: url.pathname, query: url.searchParams, headers: request.headers });
      const reply = replies.shift() ?? ok(url.searchParams.get("resource") ?? "");
      response.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
      response.end(reply.body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata/identity/oauth2/token`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    seen.length = 0;
    replies = [];
  });

  /** The error `call` fails with; fails the test if it succeeds. */
  async function failure(call: Promise<unknown>): Promise<CredmeshError> {
    try {
      await call;
    } catch (error) {
      expect(error).toBeInstanceOf(CredmeshError);
      return error as CredmeshError;
    }
    throw new Error("expected the token request to fail");
  }

  /** Everything an error could show of itself in a log, a dead letter or a console. */
  const shown = (error: CredmeshError): string => `${error.message} ${JSON.stringify(error.toRecord())} ${error.cause instanceof Error ? error.cause.toString() : String(error.cause)}`;

  it("asks the endpoint with Metadata: true for the resource, and returns the token and its expiry", async () => {
    const source = new ManagedIdentityTokenSource({ endpoint });
    const token = await source.getToken("api://AzureADTokenExchange");

    expect(token.token.reveal()).toBe(TOKEN);
    expect(token.expiresAt).toEqual(new Date(EXPIRES_ON * 1000));
    expect(seen).toHaveLength(1);
    expect(seen[0]?.method).toBe("GET");
    expect(seen[0]?.path).toBe("/metadata/identity/oauth2/token");
    expect(seen[0]?.headers["metadata"]).toBe("true");
    expect(seen[0]?.query.get("api-version")).toBe("2018-02-01");
    expect(seen[0]?.query.get("resource")).toBe("api://AzureADTokenExchange");
    expect(seen[0]?.query.has("client_id")).toBe(false);
  });

  it("names a user-assigned identity by its client_id", async () => {
    const source = new ManagedIdentityTokenSource({ endpoint, clientId: "11111111-2222-3333-4444-555555555555" });
    await source.getToken("https://vault.azure.net");
    expect(seen[0]?.query.get("client_id")).toBe("11111111-2222-3333-4444-555555555555");
  });

  it("reads expires_in when expires_on is absent", async () => {
    replies = [{ status: 200, body: JSON.stringify({ access_token: TOKEN, expires_in: "3600" }) }];
    const before = Date.now();
    const token = await new ManagedIdentityTokenSource({ endpoint }).getToken("https://vault.azure.net");
    expect(token.expiresAt.getTime()).toBeGreaterThanOrEqual(before + 3_600_000);
  });

  it("caches the token per resource", async () => {
    const source = new ManagedIdentityTokenSource({ endpoint });
    await source.getToken("https://vault.azure.net");
    await source.getToken("https://vault.azure.net");
    await source.getToken("api://AzureADTokenExchange");
    await source.getToken("api://AzureADTokenExchange");
    expect(seen.map((request) => request.query.get("resource"))).toEqual(["https://vault.azure.net", "api://AzureADTokenExchange"]);
  });

  it("makes one request for concurrent callers", async () => {
    const source = new ManagedIdentityTokenSource({ endpoint });
    await Promise.all(Array.from({ length: 10 }, () => source.getToken("https://vault.azure.net")));
    expect(seen).toHaveLength(1);
  });

  it("maps 429 to a retryable throttle that honours Retry-After", async () => {
    replies = [{ status: 429, body: '{"error":"too_many_requests"}', headers: { "retry-after": "5" } }];
    const error = await failure(new ManagedIdentityTokenSource({ endpoint }).getToken("https://vault.azure.net"));
    expect(error).toMatchObject({ reason: "throttled", retryable: true, retryAfterMs: 5_000, status: 429 });
  });

  it("maps 500 to a retryable outage", async () => {
    replies = [{ status: 500, body: '{"error":"unknown_error"}' }];
    const error = await failure(new ManagedIdentityTokenSource({ endpoint }).getToken("https://vault.azure.net"));
    expect(error).toMatchObject({ reason: "unavailable", retryable: true, status: 500 });
  });

  it("maps 400 (e.g. an unknown identity) to a permanent error", async () => {
    replies = [{ status: 400, body: '{"error":"invalid_request","error_description":"Identity not found"}' }];
    const error = await failure(new ManagedIdentityTokenSource({ endpoint }).getToken("https://vault.azure.net"));
    expect(error).toMatchObject({ reason: "validation", retryable: false, status: 400 });
  });

  it("does not cache a failure: the next call asks again", async () => {
    replies = [{ status: 500, body: "{}" }];
    const source = new ManagedIdentityTokenSource({ endpoint });
    await failure(source.getToken("https://vault.azure.net"));
    expect((await source.getToken("https://vault.azure.net")).token.reveal()).toBe(TOKEN);
    expect(seen).toHaveLength(2);
  });

  it.each([
    ["no token", JSON.stringify({ expires_on: String(EXPIRES_ON) })],
    ["an empty token", JSON.stringify({ access_token: "", expires_on: String(EXPIRES_ON) })],
    ["JSON null", "null"],
  ])("fails as identity_unavailable when the response has %s", async (_, body) => {
    replies = [{ status: 200, body }];
    const error = await failure(new ManagedIdentityTokenSource({ endpoint }).getToken("https://vault.azure.net"));
    expect(error).toMatchObject({ reason: "identity_unavailable", retryable: true });
  });

  it.each([
    ["an error body that echoes the token", { status: 400, body: JSON.stringify({ error: "invalid_request", access_token: TOKEN }) }],
    ["a throttle body that echoes the token", { status: 429, body: `token ${TOKEN} throttled` }],
    ["a proxy page instead of JSON", { status: 200, body: `<html>cached: ${TOKEN}</html>` }],
    ["malformed JSON around the token", { status: 200, body: `{"access_token":${TOKEN},"expires_on":1}` }],
  ])("never puts the token in an error, for %s", async (_, reply) => {
    replies = [reply];
    const error = await failure(new ManagedIdentityTokenSource({ endpoint }).getToken("https://vault.azure.net"));
    expect(shown(error)).not.toContain("SECRET-ACCESS-TOKEN");
  });

  it("treats a garbled response as a retryable identity outage", async () => {
    replies = [{ status: 200, body: "<html>502 Bad Gateway</html>" }];
    const error = await failure(new ManagedIdentityTokenSource({ endpoint }).getToken("https://vault.azure.net"));
    expect(error).toMatchObject({ reason: "identity_unavailable", retryable: true });
  });

  it("fails as a retryable identity_unavailable when nothing listens", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(new ManagedIdentityTokenSource({ endpoint: `http://127.0.0.1:${port}/token` }).getToken("r"));
    expect(error).toMatchObject({ reason: "identity_unavailable", retryable: true });
  });

  describe("as an Azure SDK TokenCredential", () => {
    it("turns the scope into the resource and returns a bearer token", async () => {
      const credential = managedIdentityCredential(new ManagedIdentityTokenSource({ endpoint }));
      const token = await credential.getToken(["https://vault.azure.net/.default"]);
      expect(seen[0]?.query.get("resource")).toBe("https://vault.azure.net");
      expect(token).toStrictEqual({ token: TOKEN, expiresOnTimestamp: EXPIRES_ON * 1000, tokenType: "Bearer" });
    });

    it("refuses an empty scope list as a configuration error", async () => {
      const credential = managedIdentityCredential(new ManagedIdentityTokenSource({ endpoint }));
      await expect(credential.getToken([])).rejects.toMatchObject({ reason: "configuration" });
    });
  });
});
