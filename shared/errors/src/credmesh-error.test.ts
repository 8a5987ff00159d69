import { describe, expect, it } from "vitest";
import { CredmeshError, isCredmeshError, toCredmeshError } from "./credmesh-error.ts";

const SECRET = "hunter2-s3cr3t";

class SdkError extends Error {
  override name = "SdkError";
}

describe("toCredmeshError", () => {
  it("returns a CredmeshError unchanged", () => {
    const original = new CredmeshError("throttled", "secretsmanager PutSecretValue failed");
    expect(toCredmeshError(original)).toBe(original);
  });

  it("makes a foreign error a permanent internal error named only by its type", () => {
    const foreign = new SdkError(`the value ${SECRET} was rejected`);
    const error = toCredmeshError(foreign);
    expect(error.reason).toBe("internal");
    expect(error.retryable).toBe(false);
    expect(error.message).toBe("unexpected SdkError");
    expect(error.message).not.toContain(SECRET);
  });

  it("keeps the foreign error only as the cause", () => {
    const foreign = new Error(SECRET);
    expect(toCredmeshError(foreign).cause).toBe(foreign);
  });

  it.each([
    ["a string", SECRET, "unexpected string"],
    ["a number", 42, "unexpected number"],
    ["undefined", undefined, "unexpected undefined"],
    ["a plain object", { message: SECRET }, "unexpected object"],
  ])("handles a thrown %s", (_, thrown, message) => {
    const error = toCredmeshError(thrown);
    expect(error.message).toBe(message);
    expect(error.message).not.toContain(SECRET);
  });
});

describe("CredmeshError", () => {
  it("takes retryability from its reason", () => {
    expect(new CredmeshError("throttled", "x").retryable).toBe(true);
    expect(new CredmeshError("access_denied", "x").retryable).toBe(false);
  });

  it("is recognised by isCredmeshError and nothing else is", () => {
    expect(isCredmeshError(new CredmeshError("internal", "x"))).toBe(true);
    expect(isCredmeshError(Object.assign(new Error("x"), { name: "CredmeshError", reason: "internal" }))).toBe(false);
  });

  describe("toRecord", () => {
    const cause = new SdkError(`Secret value ${SECRET} is invalid`);
    const error = new CredmeshError("validation", "keyvault SetSecret failed (BadParameter, HTTP 400)", {
      cause,
      code: "BadParameter",
      status: 400,
    });

    it("describes the failure with reason, retryability, our message, code and status", () => {
      expect(error.toRecord()).toStrictEqual({
        reason: "validation",
        retryable: false,
        message: "keyvault SetSecret failed (BadParameter, HTTP 400)",
        code: "BadParameter",
        status: 400,
      });
    });

    it("carries neither the cause nor its message", () => {
      const record = error.toRecord();
      expect(record).not.toHaveProperty("cause");
      expect(JSON.stringify(record)).not.toContain(SECRET);
    });

    it("leaves out code and status when unknown", () => {
      expect(new CredmeshError("network", "call failed").toRecord()).toStrictEqual({
        reason: "network",
        retryable: true,
        message: "call failed",
      });
    });
  });

  it("does not serialise its cause with JSON.stringify", () => {
    const error = toCredmeshError(new Error(SECRET));
    expect(JSON.stringify(error)).not.toContain(SECRET);
  });
});
