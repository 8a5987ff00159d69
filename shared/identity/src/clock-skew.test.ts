import { describe, expect, it } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import { Sensitive } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import { ClockSkewGuard, type ClockSkewObservation, type TokenOrigin } from "./clock-skew.ts";

const NOW = Date.parse("2026-01-01T12:00:00Z");
const now = NOW / 1000;

/** A JWT-shaped token with the given claims and a recognisable, secret signature. */
function jwt(claims: Record<string, unknown>): Sensitive<string> {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  return new Sensitive(`${part({ alg: "RS256" })}.${part({ aud: "api://AzureADTokenExchange", ...claims })}.SECRET-SIGNATURE`);
}

const FILE: TokenOrigin = { source: "aws/web-identity-token-file", what: "the AWS web identity token file /var/run/token", freshlyIssued: false };
const MINTED: TokenOrigin = { source: "azure/aws-web-identity-token", what: "the client assertion from STS GetWebIdentityToken", freshlyIssued: true };

function setup(toleranceSeconds?: number) {
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const refusals: ClockSkewObservation[] = [];
  const guard = new ClockSkewGuard({
    ...(toleranceSeconds === undefined ? {} : { toleranceSeconds }),
    now: () => NOW,
    metrics,
    onRefusal: (observation) => refusals.push(observation),
  });
  const gauge = async (source: string) => (await metrics.identityClockSkew.get()).values.find((v) => v.labels["source"] === source)?.value;
  const refused = async (source: string) => (await metrics.identityClockSkewRefusals.get()).values.find((v) => v.labels["source"] === source)?.value ?? 0;
  return { guard, refusals, gauge, refused };
}

function refusal(call: () => void): CredmeshError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(CredmeshError);
    return error as CredmeshError;
  }
  throw new Error("expected the token to be refused");
}

describe("ClockSkewGuard", () => {
  it("passes a token issued now, and one issued within the 300 s default tolerance in the future", () => {
    const { guard } = setup();
    guard.check(jwt({ iat: now, exp: now + 3600 }), FILE);
    guard.check(jwt({ iat: now + 300, exp: now + 3900 }), FILE);
    guard.check(jwt({ iat: now - 300, exp: now + 3300 }), MINTED);
  });

  it("refuses a token issued beyond the tolerance in the future: permanent unauthenticated ClockSkew, no token in the error", async () => {
    const { guard, refusals, gauge, refused } = setup();
    const error = refusal(() => guard.check(jwt({ iat: now + 412, exp: now + 4012 }), FILE));
    expect(error).toMatchObject({ reason: "unauthenticated", retryable: false, code: "ClockSkew" });
    expect(error.message).toBe(
      "the AWS web identity token file /var/run/token was refused before use: its iat 2026-01-01T12:06:52.000Z is 412 s in the future of the local clock: " +
        "the local clock is behind the issuer's (tolerance 300 s); fix the host's time synchronisation (NTP)",
    );
    expect(`${error.message} ${JSON.stringify(error.toRecord())} ${error.stack ?? ""}`).not.toContain("SECRET-SIGNATURE");
    expect(refusals).toEqual([
      {
        source: "aws/web-identity-token-file",
        claim: "iat",
        claimedAt: new Date((now + 412) * 1000),
        observedAt: new Date(NOW),
        offsetSeconds: 412,
        toleranceSeconds: 300,
      },
    ]);
    expect(await gauge("aws/web-identity-token-file")).toBe(412);
    expect(await refused("aws/web-identity-token-file")).toBe(1);
  });

  it("looks at nbf when it is later than iat", () => {
    const { guard, refusals } = setup(60);
    const error = refusal(() => guard.check(jwt({ iat: now, nbf: now + 61, exp: now + 3600 }), FILE));
    expect(error.message).toContain("its nbf");
    expect(refusals[0]?.claim).toBe("nbf");
  });

  it("lets an old token from a file or IMDS pass (age is not skew), reporting no skew", async () => {
    const { guard, gauge } = setup();
    guard.check(jwt({ iat: now - 19 * 3600, exp: now + 5 * 3600 }), FILE);
    expect(await gauge("aws/web-identity-token-file")).toBe(0);
  });

  it("refuses a freshly minted token whose issued-at is far behind the local clock: the local clock is ahead", async () => {
    const { guard, gauge, refused } = setup();
    const error = refusal(() => guard.check(jwt({ iat: now - 600, exp: now - 300 }), MINTED));
    expect(error.code).toBe("ClockSkew");
    expect(error.message).toContain("600 s before the local clock although it was just issued: the local clock is ahead of the issuer's");
    expect(await gauge("azure/aws-web-identity-token")).toBe(-600);
    expect(await refused("azure/aws-web-identity-token")).toBe(1);
  });

  it("honours a configured tolerance, down to zero", () => {
    const { guard } = setup(0);
    guard.check(jwt({ iat: now }), FILE);
    expect(() => guard.check(jwt({ iat: now + 1 }), FILE)).toThrow(/tolerance 0 s/);
  });

  it("leaves tokens it cannot read to their consumer", () => {
    const { guard, refusals } = setup();
    guard.check(new Sensitive("not-a-jwt"), FILE);
    guard.check(jwt({ exp: now + 60 }), FILE);
    guard.check(jwt({ iat: "yesterday" }), FILE);
    expect(refusals).toEqual([]);
  });

  it("does not let a failing hook change the outcome", () => {
    const guard = new ClockSkewGuard({
      now: () => NOW,
      onRefusal: () => {
        throw new Error("bus down");
      },
    });
    expect(refusal(() => guard.check(jwt({ iat: now + 900 }), FILE)).code).toBe("ClockSkew");
  });

  it("rejects a negative tolerance as configuration", () => {
    expect(() => new ClockSkewGuard({ toleranceSeconds: -1 })).toThrow(/non-negative/);
  });
});
