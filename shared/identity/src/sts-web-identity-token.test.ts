import { STSServiceException, type GetWebIdentityTokenCommand } from "@aws-sdk/client-sts";
import { describe, expect, it, vi } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import { stsError } from "./sts-errors.ts";
import { stsWebIdentityToken } from "./sts-web-identity-token.ts";

/** An STS error as the SDK raises it for a Query-protocol error answer. */
function stsException(name: string, status: number): STSServiceException {
  return new STSServiceException({ name, $fault: status >= 500 ? "server" : "client", $metadata: { httpStatusCode: status }, message: `${name}: SECRET-DETAIL` });
}

const credentials = Object.assign(async () => ({ accessKeyId: "ASIAEXAMPLE", secretAccessKey: "s" }), { invalidate: vi.fn() });

describe("stsWebIdentityToken", () => {
  it("asks STS for an RS256 token for the audience and lifetime, and returns it as a sensitive value", async () => {
    const send = vi.fn(async (_command: GetWebIdentityTokenCommand) => ({ WebIdentityToken: "eyJ.minted.token", Expiration: new Date(), $metadata: {} }));
    const mint = stsWebIdentityToken({ region: "eu-west-1", durationSeconds: 600 }, credentials, { client: { send } });
    const token = await mint();
    expect(token.reveal()).toBe("eyJ.minted.token");
    expect(String(token)).not.toContain("minted");
    expect(send.mock.calls[0]?.[0].input).toEqual({ Audience: ["api://AzureADTokenExchange"], DurationSeconds: 600, SigningAlgorithm: "RS256" });
    expect(mint.freshlyIssued).toBe(true);
    expect(mint.what).toBe("STS GetWebIdentityToken (audience api://AzureADTokenExchange, region eu-west-1)");
  });

  it.each([0, 59, 3601, 1.5])("refuses a lifetime of %s s as configuration", (durationSeconds) => {
    expect(() => stsWebIdentityToken({ region: "us-east-1", durationSeconds }, credentials)).toThrow(/60–3600 seconds/);
  });

  it.each<[string, number, string, boolean]>([
    ["OutboundWebIdentityFederationDisabledException", 403, "configuration", false],
    ["AccessDenied", 403, "access_denied", false],
    ["JWTPayloadSizeExceededException", 400, "validation", false],
    ["SessionDurationEscalationException", 400, "credentials_expired", true],
    ["ExpiredTokenException", 400, "credentials_expired", true],
    ["ThrottlingException", 400, "throttled", true],
    ["InternalFailure", 500, "unavailable", true],
  ])("classifies %s as %s", async (name, status, reason, retryable) => {
    const send = vi.fn(async () => {
      throw stsException(name, status);
    });
    const error = await stsWebIdentityToken({ region: "us-east-1" }, credentials, { client: { send } })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredmeshError);
    expect(error).toMatchObject({ reason, retryable });
    expect((error as CredmeshError).message).not.toContain("SECRET-DETAIL");
  });

  it("invalidates the caller's AWS credentials when STS says they expired", async () => {
    credentials.invalidate.mockClear();
    const send = vi.fn(async () => {
      throw stsException("ExpiredTokenException", 400);
    });
    await stsWebIdentityToken({ region: "us-east-1" }, credentials, { client: { send } })().catch(() => undefined);
    expect(credentials.invalidate).toHaveBeenCalledTimes(1);
  });

  it("treats an answer without a token as an identity outage", async () => {
    const send = vi.fn(async () => ({ $metadata: {} }));
    await expect(stsWebIdentityToken({ region: "us-east-1" }, credentials, { client: { send } })()).rejects.toMatchObject({
      reason: "identity_unavailable",
    });
  });
});

describe("stsError", () => {
  it.each<[string, string]>([
    ["InvalidIdentityTokenException", "unauthenticated"],
    ["IDPRejectedClaimException", "unauthenticated"],
    ["IDPCommunicationErrorException", "identity_unavailable"],
    ["RegionDisabledException", "configuration"],
  ])("maps the AssumeRoleWithWebIdentity error %s to %s", (name, reason) => {
    expect(stsError("sts AssumeRoleWithWebIdentity", stsException(name, 400))).toMatchObject({ reason, code: name, status: 400 });
  });

  it("falls back to the shared classification for transport failures", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(stsError("sts GetWebIdentityToken", refused)).toMatchObject({ reason: "network", retryable: true });
  });
});
