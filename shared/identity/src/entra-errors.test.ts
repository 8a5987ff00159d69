import { describe, expect, it } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import { AADSTS_REASONS, entraError, entraFailureFacts, entraReason } from "./entra-errors.ts";

describe("entraReason", () => {
  it.each([
    [{ aadsts: 700213, error: "invalid_request", fromServer: true, status: 400 }, "unauthenticated"],
    [{ aadsts: 90061, error: "invalid_client", fromServer: true, status: 400 }, "identity_unavailable"],
    [{ aadsts: 1002012, error: "invalid_scope", fromServer: true }, "configuration"],
    [{ aadsts: 123456, error: "invalid_client", fromServer: true }, "unauthenticated"],
    [{ error: "invalid_grant", fromServer: true, status: 400 }, "unauthenticated"],
    [{ error: "temporarily_unavailable", fromServer: true, status: 503 }, "identity_unavailable"],
    [{ error: "openid_config_error", fromServer: false }, "identity_unavailable"],
    [{ error: "untrusted_authority", fromServer: false }, "configuration"],
    [{ error: "invalid_client", fromServer: false }, "internal"],
    [{ status: 429 }, "throttled"],
    [{ status: 502 }, "identity_unavailable"],
    [{ nodeCode: "ECONNREFUSED" }, "identity_unavailable"],
    [{ status: 401 }, "unauthenticated"],
    [{}, "internal"],
  ] as const)("%o is %s", (facts, reason) => {
    expect(entraReason(facts)).toBe(reason);
  });

  it("has a hint for every AADSTS code, none quoting Entra", () => {
    for (const entry of Object.values(AADSTS_REASONS)) expect(entry.hint).not.toMatch(/AADSTS/);
  });
});

describe("entraFailureFacts", () => {
  it("walks the cause chain to MSAL's ServerError", () => {
    const server = Object.assign(new Error("x"), { name: "ServerError", errorCode: "invalid_client", errorNo: "700212", status: 400 });
    const wrapped = new Error("outer", { cause: new Error("middle", { cause: server }) });
    expect(entraFailureFacts(wrapped)).toEqual({ fromServer: true, error: "invalid_client", aadsts: 700212, status: 400 });
  });

  it("returns our own error found in the chain, as is", () => {
    const ours = new CredmeshError("identity_unavailable", "token file missing");
    expect(entraFailureFacts(new Error("wrapped", { cause: ours }))).toBe(ours);
    expect(entraError("anything", new Error("wrapped", { cause: ours }))).toBe(ours);
  });

  it("survives a cause cycle", () => {
    const a: Error & { cause?: unknown } = new Error("a");
    a.cause = new Error("b", { cause: a });
    expect(entraFailureFacts(a)).toEqual({});
  });
});

describe("entraError", () => {
  it("writes its message from codes and the hint only", () => {
    const server = Object.assign(new Error("AADSTS700211: ... issuer 'https://secret.example' ..."), {
      name: "ServerError",
      errorCode: "invalid_client",
      errorMessage: "AADSTS700211: ... issuer 'https://secret.example' ...",
      errorNo: 700211,
      status: 400,
    });
    const error = entraError("Entra token request", server);
    expect(error.message).toBe(
      "Entra token request failed (invalid_client, AADSTS700211, HTTP 400): no federated identity credential of the app trusts the assertion's issuer",
    );
    expect(error.toRecord()).toEqual({ reason: "unauthenticated", retryable: false, message: error.message, code: "AADSTS700211", status: 400 });
    expect(error.cause).toBeUndefined();
  });
});
