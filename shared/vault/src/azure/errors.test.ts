import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  RestError,
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import { SecretClient } from "@azure/keyvault-secrets";
import { describe, expect, it } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import { createLogger, sensitive } from "@credmesh/logging";
import { errorCodesFromBody, mapKeyVaultError } from "./errors.ts";
import { KeyVaultVault } from "./key-vault-vault.ts";

/** The wire-format fixtures beside the repository (FORMATS.md), or CREDMESH_FIXTURES_DIR. */
const FIXTURES_DIR =
  process.env["CREDMESH_FIXTURES_DIR"] ?? resolve(fileURLToPath(new URL("../../../../", import.meta.url)), "../shared/fixtures");
const fixture = (name: string): string => readFileSync(resolve(FIXTURES_DIR, `azure-keyvault-error-${name}.json`), "utf8");

const VAULT_URL = "https://payments.vault.azure.net";

interface KeyVaultErrorBody {
  error: { code: string; message: string; innererror?: { code: string } };
}

/**
 * A RestError as Key Vault's SDK throws it for `body`. With `details`, also the deserialised body
 * that @azure/keyvault-secrets 4.12 attaches (its `innererror` renamed `innerError`); without,
 * only the raw response, as other Azure clients leave it.
 */
function restError(body: string, status: number, options: { details: boolean; retryAfter?: string }): RestError {
  const parsed = JSON.parse(body) as KeyVaultErrorBody;
  const request = createPipelineRequest({ url: `${VAULT_URL}/secrets/db-credentials?api-version=7.6`, method: "PUT" });
  const headers = createHttpHeaders({
    "content-type": "application/json; charset=utf-8",
    ...(options.retryAfter === undefined ? {} : { "retry-after": options.retryAfter }),
  });
  const error = new RestError(parsed.error.message, {
    statusCode: status,
    code: parsed.error.code,
    request,
    response: { request, status, headers, bodyAsText: body },
  });
  if (options.details) {
    error.details = {
      error: {
        code: parsed.error.code,
        message: parsed.error.message,
        innerError: parsed.error.innererror ? { code: parsed.error.innererror.code } : undefined,
      },
    };
  }
  return error;
}

const CASES = [
  { fixture: "409-objectisdeletedbutrecoverable", status: 409, reason: "deleted_in_destination", retryable: false, code: "ObjectIsDeletedButRecoverable" },
  { fixture: "409-objectisbeingdeleted", status: 409, reason: "operation_in_progress", retryable: true, code: "ObjectIsBeingDeleted" },
  { fixture: "404-secretnotfound", status: 404, reason: "not_found", retryable: false, code: "SecretNotFound" },
  { fixture: "429-throttled", status: 429, reason: "throttled", retryable: true, code: "Throttled" },
  { fixture: "400-tags", status: 400, reason: "validation", retryable: false, code: "BadParameter" },
] as const;

describe("mapKeyVaultError with the real error bodies", () => {
  for (const via of ["details.error.innerError (keyvault-secrets 4.12)", "the response body only"] as const) {
    describe(`read from ${via}`, () => {
      it.each(CASES)("maps $fixture to $reason", ({ fixture: name, status, reason, retryable, code }) => {
        const error = mapKeyVaultError("SetSecret", restError(fixture(name), status, { details: via.startsWith("details") }));
        expect(error).toBeInstanceOf(CredmeshError);
        expect(error).toMatchObject({ reason, retryable, code, status });
        expect(error.message).toBe(`keyvault SetSecret failed (${code}, HTTP ${status})`);
      });
    });
  }

  it.each(CASES)("never copies Key Vault's message text for $fixture", ({ fixture: name, status }) => {
    const original = (JSON.parse(fixture(name)) as KeyVaultErrorBody).error.message;
    const error = mapKeyVaultError("SetSecret", restError(fixture(name), status, { details: true }));
    expect(error.message).not.toContain(original.trim());
    expect(JSON.stringify(error.toRecord())).not.toContain("db-credentials");
  });

  it("maps 409 ObjectIsBeingRecovered (a recovery still finishing) to a retryable operation_in_progress", () => {
    // Text quoted from the service in Azure/azure-sdk-for-net#31581; there is no shared fixture of it.
    const body = JSON.stringify({
      error: {
        code: "Conflict",
        message: "Secret db-credentials is currently being recovered and cannot be re-created; retry later.",
        innererror: { code: "ObjectIsBeingRecovered" },
      },
    });
    for (const details of [true, false]) {
      expect(mapKeyVaultError("SetSecret", restError(body, 409, { details }))).toMatchObject({
        reason: "operation_in_progress",
        retryable: true,
        code: "ObjectIsBeingRecovered",
        status: 409,
      });
    }
  });

  it("keeps the RestError as the cause, for debugging", () => {
    const original = restError(fixture("404-secretnotfound"), 404, { details: true });
    expect(mapKeyVaultError("GetSecret", original).cause).toBe(original);
  });
});

describe("mapKeyVaultError: throttling", () => {
  it("honours Retry-After in seconds", () => {
    const error = mapKeyVaultError("SetSecret", restError(fixture("429-throttled"), 429, { details: true, retryAfter: "7" }));
    expect(error).toMatchObject({ reason: "throttled", retryable: true, retryAfterMs: 7_000 });
  });

  it("is throttled without a Retry-After too, leaving the wait to the backoff", () => {
    const error = mapKeyVaultError("SetSecret", restError(fixture("429-throttled"), 429, { details: true }));
    expect(error).toMatchObject({ reason: "throttled", retryable: true });
    expect(error.retryAfterMs).toBeUndefined();
  });

  it("ignores a Retry-After it cannot read", () => {
    const error = mapKeyVaultError("SetSecret", restError(fixture("429-throttled"), 429, { details: true, retryAfter: "soon" }));
    expect(error.retryAfterMs).toBeUndefined();
  });
});

describe("mapKeyVaultError: transport failures", () => {
  it("maps a connection reset to a retryable network error", () => {
    const error = mapKeyVaultError("GetSecret", new RestError("read ECONNRESET", { code: "ECONNRESET" }));
    expect(error).toMatchObject({ reason: "network", retryable: true });
    expect(error.code).toBeUndefined();
  });

  it("maps an undici socket error to a network error", () => {
    expect(mapKeyVaultError("GetSecret", Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" })).reason).toBe("network");
  });

  it("maps our own deadline's abort to a timeout", () => {
    const aborted = Object.assign(new Error("The operation was aborted."), { name: "AbortError" });
    expect(mapKeyVaultError("GetSecret", aborted)).toMatchObject({ reason: "timeout", retryable: true });
  });

  it("maps an unknown thrown value to a permanent internal error", () => {
    expect(mapKeyVaultError("GetSecret", "boom")).toMatchObject({ reason: "internal", retryable: false });
  });
});

describe("errorCodesFromBody", () => {
  it("reads the outer and inner codes", () => {
    expect(errorCodesFromBody(fixture("409-objectisbeingdeleted"))).toStrictEqual({ outer: "Conflict", inner: "ObjectIsBeingDeleted" });
    expect(errorCodesFromBody(fixture("404-secretnotfound"))).toStrictEqual({ outer: "SecretNotFound" });
  });

  it.each([undefined, "", "<html>502 Bad Gateway</html>", "null", '{"error":"text"}', '{"error":{"code":42}}'])(
    "reads nothing from %j",
    (body) => {
      expect(errorCodesFromBody(body)).toStrictEqual({});
    },
  );
});

/**
 * An HttpClient that answers Key Vault's authentication challenge, then replies with `reply`,
 * so the real SecretClient builds its errors exactly as it does against Azure.
 */
function fakeKeyVault(reply: (request: PipelineRequest) => { status: number; body: string; headers?: Record<string, string> }): HttpClient {
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
      const { status, body, headers = {} } = reply(request);
      return { request, status, headers: createHttpHeaders({ "content-type": "application/json; charset=utf-8", ...headers }), bodyAsText: body };
    },
  };
}

function vaultReplying(reply: Parameters<typeof fakeKeyVault>[0]): KeyVaultVault {
  const credential = { getToken: async () => ({ token: "fake-access-token", expiresOnTimestamp: Date.now() + 3_600_000 }) };
  const client = new SecretClient(VAULT_URL, credential, { httpClient: fakeKeyVault(reply), retryOptions: { maxRetries: 0 } });
  return new KeyVaultVault(client);
}

describe("KeyVaultVault over the real SecretClient", () => {
  const ctx = { logger: createLogger({ service: "test", level: "silent" }) };

  it("refuses to write over a soft-deleted secret as deleted_in_destination", async () => {
    const vault = vaultReplying(() => ({ status: 409, body: fixture("409-objectisdeletedbutrecoverable") }));
    await expect(vault.put("db-credentials", sensitive("v"), { tags: {} }, ctx)).rejects.toMatchObject({
      reason: "deleted_in_destination",
      code: "ObjectIsDeletedButRecoverable",
      status: 409,
    });
  });

  it("retries a write while the previous delete is still in progress", async () => {
    const vault = vaultReplying(() => ({ status: 409, body: fixture("409-objectisbeingdeleted") }));
    await expect(vault.put("db-credentials", sensitive("v"), { tags: {} }, ctx)).rejects.toMatchObject({
      reason: "operation_in_progress",
      retryable: true,
    });
  });

  it("passes on Key Vault's Retry-After", async () => {
    const vault = vaultReplying(() => ({ status: 429, body: fixture("429-throttled"), headers: { "retry-after": "12" } }));
    await expect(vault.put("db-credentials", sensitive("v"), { tags: {} }, ctx)).rejects.toMatchObject({
      reason: "throttled",
      retryAfterMs: 12_000,
    });
  });

  it("reads a missing secret as absent", async () => {
    const vault = vaultReplying(() => ({ status: 404, body: fixture("404-secretnotfound") }));
    await expect(vault.get("db-credentials", ctx)).resolves.toBeUndefined();
  });

  it("refuses a 16th tag as a validation error", async () => {
    const vault = vaultReplying(() => ({ status: 400, body: fixture("400-tags") }));
    await expect(vault.put("db-credentials", sensitive("v"), { tags: {} }, ctx)).rejects.toMatchObject({ reason: "validation", retryable: false });
  });
});
