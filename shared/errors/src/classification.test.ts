import { describe, expect, it } from "vitest";
import {
  CLOUD_CODE_REASONS,
  HTTP_STATUS_REASONS,
  NODE_NETWORK_CODES,
  classify,
  parseRetryAfter,
  reasonFor,
  stripNamespace,
} from "./classification.ts";
import { REASONS } from "./reasons.ts";

describe("reasonFor: HTTP statuses", () => {
  it.each([
    [400, "validation", false],
    [401, "unauthenticated", false],
    [403, "access_denied", false],
    [404, "not_found", false],
    [408, "timeout", true],
    [409, "validation", false],
    [413, "value_too_large", false],
    [422, "validation", false],
    [429, "throttled", true],
    [500, "unavailable", true],
    [502, "unavailable", true],
    [503, "unavailable", true],
    [504, "timeout", true],
  ] as const)("HTTP %i is %s (retryable: %s)", (status, reason, retryable) => {
    expect(reasonFor({ status })).toBe(reason);
    expect(REASONS[reasonFor({ status })].retryable).toBe(retryable);
  });

  it("treats any other 5xx as a retryable outage", () => {
    expect(reasonFor({ status: 507 })).toBe("unavailable");
    expect(reasonFor({ status: 599 })).toBe("unavailable");
  });

  it("treats any other 4xx as a permanent rejection", () => {
    expect(reasonFor({ status: 418 })).toBe("validation");
    expect(reasonFor({ status: 451 })).toBe("validation");
  });

  it("has an entry for every status it lists", () => {
    for (const [status, reason] of Object.entries(HTTP_STATUS_REASONS)) {
      expect(reasonFor({ status: Number(status) })).toBe(reason);
    }
  });
});

describe("reasonFor: AWS codes", () => {
  it.each([
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "LimitExceededException",
  ])("%s is retryable throttling, whatever the status", (code) => {
    expect(reasonFor({ code, status: 400 })).toBe("throttled");
  });

  it.each([
    ["RequestTimeout", "timeout"],
    ["PriorRequestNotComplete", "operation_in_progress"],
    ["InternalServiceError", "unavailable"],
    ["ExpiredTokenException", "credentials_expired"],
    ["IDPCommunicationError", "identity_unavailable"],
  ] as const)("transient %s is %s and retryable", (code, reason) => {
    expect(reasonFor({ code, status: 400 })).toBe(reason);
    expect(REASONS[reason].retryable).toBe(true);
  });

  it.each([
    ["AccessDeniedException", "access_denied"],
    ["ResourceNotFoundException", "not_found"],
    ["InvalidRequestException", "validation"],
    ["InvalidParameterException", "validation"],
    ["ResourceExistsException", "validation"],
    ["DecryptionFailure", "access_denied"],
    ["InvalidIdentityToken", "unauthenticated"],
  ] as const)("%s is permanent %s", (code, reason) => {
    expect(reasonFor({ code, status: 400 })).toBe(reason);
    expect(REASONS[reason].retryable).toBe(false);
  });

  it("reads a namespaced JSON 1.1 __type", () => {
    expect(reasonFor({ code: "com.amazonaws.secretsmanager#ThrottlingException", status: 400 })).toBe("throttled");
    expect(reasonFor({ code: "com.amazonaws.secretsmanager#InvalidRequestException", status: 400 })).toBe("validation");
  });

  it("reads the x-amzn-errortype form with a trailing URI", () => {
    expect(reasonFor({ code: "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/", status: 400 })).toBe("throttled");
  });
});

describe("reasonFor: Key Vault codes", () => {
  it.each([
    ["Throttled", 429, "throttled"],
    ["ObjectIsBeingDeleted", 409, "operation_in_progress"],
    ["ObjectIsDeletedButRecoverable", 409, "deleted_in_destination"],
    ["SecretNotFound", 404, "not_found"],
    ["SecretDisabled", 403, "access_denied"],
    ["BadParameter", 400, "validation"],
  ] as const)("%s (HTTP %i) is %s", (code, status, reason) => {
    expect(reasonFor({ code, status })).toBe(reason);
  });

  it("tells the two 409s apart, which the status alone cannot", () => {
    expect(REASONS[reasonFor({ code: "ObjectIsBeingDeleted", status: 409 })].retryable).toBe(true);
    expect(REASONS[reasonFor({ code: "ObjectIsDeletedButRecoverable", status: 409 })].retryable).toBe(false);
  });
});

describe("reasonFor: transport failures", () => {
  it.each([...NODE_NETWORK_CODES])("Node code %s is a retryable network failure", (nodeCode) => {
    expect(reasonFor({ nodeCode })).toBe("network");
  });

  it("treats an unknown Node code without a response as a network failure", () => {
    expect(reasonFor({ nodeCode: "ESOMETHINGNEW" })).toBe("network");
  });

  it("is a timeout when our own deadline aborted the call, whatever else is known", () => {
    expect(reasonFor({ timedOut: true })).toBe("timeout");
    expect(reasonFor({ timedOut: true, status: 400, code: "AccessDeniedException" })).toBe("timeout");
  });

  it("is internal when nothing is known", () => {
    expect(reasonFor({})).toBe("internal");
  });
});

describe("reasonFor: precedence code > node code > status", () => {
  it("lets the cloud's code override the status", () => {
    expect(reasonFor({ code: "ThrottlingException", status: 400 })).toBe("throttled");
    expect(reasonFor({ code: "AccessDeniedException", status: 500 })).toBe("access_denied");
  });

  it("lets a known cloud code override a Node code", () => {
    expect(reasonFor({ code: "AccessDeniedException", nodeCode: "ECONNRESET" })).toBe("access_denied");
  });

  it("lets a network code override the status", () => {
    expect(reasonFor({ nodeCode: "ECONNRESET", status: 400 })).toBe("network");
  });

  it("falls through an unknown cloud code to the status", () => {
    expect(reasonFor({ code: "BrandNewException", status: 503 })).toBe("unavailable");
    expect(reasonFor({ code: "BrandNewException", status: 403 })).toBe("access_denied");
  });

  it("maps every code in the table to its reason", () => {
    for (const [code, reason] of Object.entries(CLOUD_CODE_REASONS)) {
      expect(reasonFor({ code, status: 418 })).toBe(reason);
    }
  });
});

describe("stripNamespace", () => {
  it.each([
    ["ThrottlingException", "ThrottlingException"],
    ["com.amazonaws.secretsmanager#ThrottlingException", "ThrottlingException"],
    ["aws.protocoltests#a.b#ResourceNotFoundException", "ResourceNotFoundException"],
    ["ThrottlingException:http://internal.amazon.com/", "ThrottlingException"],
    ["com.amazonaws#Throttling:http://x/y", "Throttling"],
  ])("%s → %s", (input, expected) => {
    expect(stripNamespace(input)).toBe(expected);
  });
});

describe("classify", () => {
  it("builds a retryable error with the stripped code, status and Retry-After", () => {
    const cause = new Error("Rate exceeded");
    const error = classify(
      "secretsmanager GetSecretValue",
      { code: "com.amazonaws.secretsmanager#ThrottlingException", status: 400, retryAfterMs: 2_000 },
      cause,
    );
    expect(error).toMatchObject({
      reason: "throttled",
      retryable: true,
      code: "ThrottlingException",
      status: 400,
      retryAfterMs: 2_000,
      message: "secretsmanager GetSecretValue failed (ThrottlingException, HTTP 400)",
    });
    expect(error.cause).toBe(cause);
  });

  it("writes its message from the call name and codes, never from the cause's text", () => {
    const cause = new Error("password=hunter2 rejected");
    const error = classify("keyvault SetSecret", { status: 400 }, cause);
    expect(error.message).toBe("keyvault SetSecret failed (HTTP 400)");
    expect(JSON.stringify(error.toRecord())).not.toContain("hunter2");
  });

  it("says only that the call failed when no facts are known", () => {
    const error = classify("sts AssumeRoleWithWebIdentity", {});
    expect(error.message).toBe("sts AssumeRoleWithWebIdentity failed");
    expect(error.reason).toBe("internal");
    expect(error.retryable).toBe(false);
  });

  it("takes retryability from the reason table", () => {
    for (const status of [400, 401, 403, 404, 408, 413, 429, 500, 503, 504]) {
      const error = classify("op", { status });
      expect(error.retryable).toBe(REASONS[error.reason].retryable);
    }
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-06-01T12:00:00Z");

  it.each([
    ["0", 0],
    ["1", 1_000],
    ["120", 120_000],
    ["1.5", 1_500],
    ["  3  ", 3_000],
  ])("reads delta-seconds %j as %i ms", (header, ms) => {
    expect(parseRetryAfter(header, now)).toBe(ms);
  });

  it("reads an HTTP-date as the time left until then", () => {
    expect(parseRetryAfter("Sun, 01 Jun 2025 12:00:30 GMT", now)).toBe(30_000);
  });

  it("reads the obsolete RFC 850 date form too", () => {
    expect(parseRetryAfter("Sunday, 01-Jun-25 12:00:30 GMT", now)).toBe(30_000);
  });

  it("reads an HTTP-date in the past as no wait", () => {
    expect(parseRetryAfter("Sun, 01 Jun 2025 11:59:00 GMT", now)).toBe(0);
  });

  it.each([null, undefined, "", "   "])("ignores an absent header (%j)", (header) => {
    expect(parseRetryAfter(header, now)).toBeUndefined();
  });

  it.each(["soon", "5 s", "1e3", "0x10", "12abc", "in 5 seconds"])("ignores garbage %j", (header) => {
    expect(parseRetryAfter(header, now)).toBeUndefined();
  });

  // Date.parse reads "-5" as a year, and "abc 1" as January 2001: without a guard these come
  // back as "retry now" and override the backoff.
  it.each(["-5", "-1", "-0.5", "abc 1", "Retry 2"])("ignores a negative or number-like value %j", (header) => {
    expect(parseRetryAfter(header, now)).toBeUndefined();
  });
});
