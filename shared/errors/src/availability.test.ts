import { describe, expect, it } from "vitest";
import { AVAILABILITY_REASONS, isAvailabilityFailure } from "./availability.ts";
import { classify } from "./classification.ts";
import { CredmeshError } from "./credmesh-error.ts";
import { REASONS, type ReasonCode } from "./reasons.ts";

describe("isAvailabilityFailure", () => {
  it.each([
    ["Secrets Manager throttling", { code: "ThrottlingException", status: 400 }],
    ["Key Vault throttling", { code: "Throttled", status: 429 }],
    ["HTTP 500", { status: 500 }],
    ["HTTP 503", { status: 503 }],
    ["HTTP 504", { status: 504 }],
    ["connection refused", { nodeCode: "ECONNREFUSED" }],
    ["connection reset", { nodeCode: "ECONNRESET" }],
    ["our own deadline", { timedOut: true }],
  ])("is true for %s", (_, facts) => {
    expect(isAvailabilityFailure(classify("op", facts))).toBe(true);
  });

  it.each([
    ["AccessDeniedException", { code: "AccessDeniedException", status: 400 }],
    ["Key Vault 403", { code: "Forbidden", status: 403 }],
    ["HTTP 401", { status: 401 }],
    ["ResourceNotFoundException", { code: "ResourceNotFoundException", status: 400 }],
    ["Key Vault SecretNotFound", { code: "SecretNotFound", status: 404 }],
    ["a secret scheduled for deletion", { code: "InvalidRequestException", status: 400 }],
    ["any other 4xx", { status: 418 }],
    ["expired credentials", { code: "ExpiredTokenException", status: 400 }],
    ["an unreachable identity provider", { code: "IDPCommunicationError", status: 400 }],
  ])("is false for %s", (_, facts) => {
    expect(isAvailabilityFailure(classify("op", facts))).toBe(false);
  });

  it("is false for anything that is not a classified error", () => {
    expect(isAvailabilityFailure(new Error("ECONNREFUSED"))).toBe(false);
    expect(isAvailabilityFailure({ reason: "network" })).toBe(false);
  });

  it("lists only retryable reasons: a permanent answer is never an outage", () => {
    for (const reason of AVAILABILITY_REASONS) expect(REASONS[reason].retryable).toBe(true);
  });

  it("keeps every permanent reason out", () => {
    const permanent = (Object.keys(REASONS) as ReasonCode[]).filter((reason) => !REASONS[reason].retryable);
    for (const reason of permanent) expect(isAvailabilityFailure(new CredmeshError(reason, "op failed"))).toBe(false);
  });
});
