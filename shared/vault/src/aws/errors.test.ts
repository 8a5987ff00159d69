import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  GetSecretValueCommand,
  InternalServiceError,
  InvalidRequestException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import { mapAwsError } from "./errors.ts";

const FIXTURES_DIR =
  process.env["CREDMESH_FIXTURES_DIR"] ?? resolve(fileURLToPath(new URL("../../../../", import.meta.url)), "../shared/fixtures");
const fixture = (name: string): string => readFileSync(resolve(FIXTURES_DIR, `aws-secretsmanager-error-${name}.json`), "utf8");

/**
 * The error the real Secrets Manager client throws when the service answers `status` with `body`
 * (JSON 1.1, as on the wire): the SDK's own deserialiser builds it, no network involved.
 */
async function sdkError(status: number, body: string, headers: Record<string, string> = {}): Promise<unknown> {
  const client = new SecretsManagerClient({
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-a-real-key" },
    maxAttempts: 1,
    requestHandler: {
      handle: async () => ({
        response: {
          statusCode: status,
          headers: { "content-type": "application/x-amz-json-1.1", ...headers },
          body: new TextEncoder().encode(body),
        },
      }),
    },
  });
  try {
    await client.send(new GetSecretValueCommand({ SecretId: "prod/payments/db-credentials" }));
  } catch (error) {
    return error;
  } finally {
    client.destroy();
  }
  throw new Error("expected the call to fail");
}

const awsBody = (type: string, message = "some text from AWS"): string => JSON.stringify({ __type: type, Message: message });

describe("mapAwsError with errors built by the real SDK", () => {
  it.each([
    ["deleted", "You can't perform this operation on the secret because it was marked for deletion."],
    ["name-scheduled-for-deletion", "You can't create this secret because a secret with this name is already scheduled for deletion."],
  ])("maps the %s fixture (InvalidRequestException) to a permanent validation error", async (name, awsMessage) => {
    const error = mapAwsError("GetSecretValue", await sdkError(400, fixture(name)));
    expect(error).toMatchObject({ reason: "validation", retryable: false, code: "InvalidRequestException", status: 400 });
    expect(error.message).toBe("secretsmanager GetSecretValue failed (InvalidRequestException, HTTP 400)");
    expect(error.message).not.toContain(awsMessage);
  });

  it("maps a namespaced ThrottlingException to throttled", async () => {
    const error = mapAwsError("GetSecretValue", await sdkError(400, awsBody("com.amazonaws.secretsmanager#ThrottlingException", "Rate exceeded")));
    expect(error).toMatchObject({ reason: "throttled", retryable: true, code: "ThrottlingException" });
  });

  it("honours a Retry-After header on the response", async () => {
    const error = mapAwsError("GetSecretValue", await sdkError(429, awsBody("TooManyRequestsException"), { "retry-after": "3" }));
    expect(error).toMatchObject({ reason: "throttled", retryAfterMs: 3_000 });
  });

  it("maps ResourceNotFoundException to not_found", async () => {
    const error = mapAwsError("GetSecretValue", await sdkError(400, awsBody("ResourceNotFoundException")));
    expect(error).toMatchObject({ reason: "not_found", retryable: false });
  });

  it("maps InternalServiceError (HTTP 500) to a retryable outage", async () => {
    const error = mapAwsError("GetSecretValue", await sdkError(500, awsBody("InternalServiceError")));
    expect(error).toMatchObject({ reason: "unavailable", retryable: true });
  });

  it("maps AccessDeniedException to a permanent access_denied", async () => {
    const error = mapAwsError("GetSecretValue", await sdkError(400, awsBody("AccessDeniedException")));
    expect(error).toMatchObject({ reason: "access_denied", retryable: false });
  });

  it("maps an unknown code by its HTTP status", async () => {
    expect(mapAwsError("GetSecretValue", await sdkError(503, awsBody("SomethingNewException"))).reason).toBe("unavailable");
  });
});

describe("mapAwsError with SDK-shaped errors", () => {
  const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

  it("maps the SDK's own exception classes", () => {
    expect(mapAwsError("GetSecretValue", new ResourceNotFoundException({ message: "x", ...meta(400) })).reason).toBe("not_found");
    expect(mapAwsError("GetSecretValue", new InvalidRequestException({ message: "x", ...meta(400) })).reason).toBe("validation");
    expect(mapAwsError("GetSecretValue", new InternalServiceError({ message: "x", ...meta(500) })).reason).toBe("unavailable");
  });

  it("maps a ServiceException-like ThrottlingException to throttled", () => {
    const error = { name: "ThrottlingException", message: "Rate exceeded", $fault: "client", ...meta(400) };
    expect(mapAwsError("PutSecretValue", error)).toMatchObject({ reason: "throttled", retryable: true, status: 400 });
  });

  it("maps a transport failure with code ECONNRESET to a retryable network error", () => {
    const error = Object.assign(new Error("socket hang up"), { code: "ECONNRESET", $metadata: {} });
    const mapped = mapAwsError("GetSecretValue", error);
    expect(mapped).toMatchObject({ reason: "network", retryable: true });
    expect(mapped.code).toBeUndefined();
  });

  it("does not read a transport error's name as a cloud code", () => {
    // Without a response, "Error" or "TypeError" says nothing about the service.
    const error = Object.assign(new TypeError("fetch failed"), { code: "ECONNREFUSED" });
    expect(mapAwsError("GetSecretValue", error)).toMatchObject({ reason: "network" });
  });

  it("maps the SDK's request timeout to a network error and our abort to a timeout", () => {
    expect(mapAwsError("GetSecretValue", Object.assign(new Error("timed out"), { name: "TimeoutError" })).reason).toBe("network");
    expect(mapAwsError("GetSecretValue", Object.assign(new Error("aborted"), { name: "AbortError" })).reason).toBe("timeout");
  });

  it("passes an already classified CredmeshError through unchanged", () => {
    const expired = new CredmeshError("credentials_expired", "sts AssumeRoleWithWebIdentity failed (ExpiredTokenException)");
    expect(mapAwsError("GetSecretValue", expired)).toBe(expired);
  });

  it("never copies the SDK's message", () => {
    const error = { name: "ValidationException", message: "Value 'hunter2' at 'secretString' failed", ...meta(400) };
    const mapped = mapAwsError("PutSecretValue", error);
    expect(mapped.message).toBe("secretsmanager PutSecretValue failed (ValidationException, HTTP 400)");
    expect(JSON.stringify(mapped.toRecord())).not.toContain("hunter2");
  });

  it("maps a thrown non-object to a permanent internal error", () => {
    expect(mapAwsError("GetSecretValue", undefined)).toMatchObject({ reason: "internal", retryable: false });
  });
});
