import { inspect } from "node:util";
import { CredmeshError } from "@credmesh/errors";
import { describe, expect, it } from "vitest";
import { createSessionFailure, parseCreateSessionResponse, transportFailure } from "./create-session.ts";

const headers = (entries: Record<string, string> = {}) => new Headers(entries);

/** CreateSession's documented 201 body (Roles Anywhere user guide, "CreateSession API"). */
const answer = (credentials: Record<string, unknown>) =>
  JSON.stringify({
    credentialSet: [
      {
        assumedRoleUser: { arn: "arn:aws:sts::123456789012:assumed-role/r/s", assumedRoleId: "AROAEXAMPLE:s" },
        credentials,
        packedPolicySize: 0,
        roleArn: "arn:aws:iam::123456789012:role/r",
        sourceIdentity: "CN=cell-a",
      },
    ],
    subjectArn: "arn:aws:rolesanywhere:us-east-1:123456789012:subject/41cl0bae-6783-40d4-ab20-65dc5d922e45",
  });

describe("parseCreateSessionResponse", () => {
  it("reads credentialSet[0].credentials, with the secrets wrapped", () => {
    const parsed = parseCreateSessionResponse(
      answer({ accessKeyId: "ASIAEXAMPLE", secretAccessKey: "s3cr3t-key", sessionToken: "t0ken", expiration: "2021-11-03T13:00:00Z" }),
    );
    expect(parsed.accessKeyId).toBe("ASIAEXAMPLE");
    expect(parsed.secretAccessKey.reveal()).toBe("s3cr3t-key");
    expect(parsed.sessionToken.reveal()).toBe("t0ken");
    expect(parsed.expiration.toISOString()).toBe("2021-11-03T13:00:00.000Z");
    const printed = JSON.stringify(parsed) + inspect(parsed) + String(parsed.secretAccessKey);
    expect(printed).not.toContain("s3cr3t-key");
    expect(printed).not.toContain("t0ken");
  });

  it("also reads an epoch-seconds expiration", () => {
    const parsed = parseCreateSessionResponse(answer({ accessKeyId: "A", secretAccessKey: "S", sessionToken: "T", expiration: 1_635_944_400 }));
    expect(parsed.expiration.toISOString()).toBe("2021-11-03T13:00:00.000Z");
  });

  it.each([
    ["not JSON", "<html>"],
    ["no credential set", JSON.stringify({ credentialSet: [] })],
    ["null", "null"],
    ["no session token", answer({ accessKeyId: "A", secretAccessKey: "S", expiration: "2021-11-03T13:00:00Z" })],
    ["an empty key id", answer({ accessKeyId: "", secretAccessKey: "S", sessionToken: "T", expiration: "2021-11-03T13:00:00Z" })],
    ["an unreadable expiration", answer({ accessKeyId: "A", secretAccessKey: "S", sessionToken: "T", expiration: "soon" })],
  ])("is a retryable identity_unavailable for %s", (_what, body) => {
    const error = (() => {
      try {
        parseCreateSessionResponse(body);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CredmeshError);
    expect(error).toMatchObject({ reason: "identity_unavailable", retryable: true });
  });
});

describe("createSessionFailure", () => {
  it("is a permanent access_denied for 403 AccessDeniedException, without AWS's message text", () => {
    const error = createSessionFailure(403, headers({ "x-amzn-ErrorType": "AccessDeniedException" }), '{"message":"Untrusted signing certificate for CN=cell-a"}');
    expect(error).toMatchObject({ reason: "access_denied", retryable: false, code: "AccessDeniedException", status: 403 });
    expect(error.message).toBe("rolesanywhere CreateSession failed (AccessDeniedException, HTTP 403)");
  });

  it("reads the error type with a trailing URI, or from the body's __type when the header is absent", () => {
    expect(createSessionFailure(403, headers({ "x-amzn-errortype": "AccessDeniedException:http://internal.amazon.com/coral/" }), "").code).toBe(
      "AccessDeniedException",
    );
    expect(createSessionFailure(400, headers(), '{"__type":"com.amazonaws.rolesanywhere#ValidationException"}')).toMatchObject({
      reason: "validation",
      code: "ValidationException",
    });
  });

  it("is retryable throttling with the server's Retry-After", () => {
    const error = createSessionFailure(429, headers({ "x-amzn-ErrorType": "ThrottlingException", "Retry-After": "2" }), "{}");
    expect(error).toMatchObject({ reason: "throttled", retryable: true, retryAfterMs: 2000 });
  });

  it.each([
    [500, "InternalServerException", "unavailable", true],
    [503, "", "unavailable", true],
    [404, "ResourceNotFoundException", "not_found", false],
    [400, "ValidationException", "validation", false],
    [403, "", "access_denied", false],
  ] as const)("HTTP %i %s is %s (retryable %s)", (status, type, reason, retryable) => {
    const error = createSessionFailure(status, headers(type ? { "x-amzn-ErrorType": type } : {}), "not json");
    expect(error).toMatchObject({ reason, retryable });
  });
});

describe("transportFailure", () => {
  it("is a retryable timeout when our deadline fired", () => {
    expect(transportFailure(new DOMException("The operation was aborted due to timeout", "TimeoutError"))).toMatchObject({
      reason: "timeout",
      retryable: true,
    });
  });

  it("is a retryable network failure with undici's cause code", () => {
    const error = Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error("connect"), { code: "ECONNREFUSED" }) });
    expect(transportFailure(error)).toMatchObject({ reason: "network", retryable: true });
  });
});
