import { CredmeshError } from "@credmesh/errors";
import type { Sensitive } from "@credmesh/logging";

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * The claims of a compact JWS, decoded without verifying it (the token's consumer verifies).
 * Returns undefined when `token` is not shaped like a JWT. Never throws anything that quotes the
 * token: JSON.parse's SyntaxError would.
 */
export function unverifiedClaims(token: Sensitive<string>): Record<string, unknown> | undefined {
  const parts = token.reveal().split(".");
  if (parts.length !== 3 || !SEGMENT.test(parts[0] ?? "") || !SEGMENT.test(parts[1] ?? "")) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString("utf8"));
    return claims !== null && typeof claims === "object" && !Array.isArray(claims) ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses an assertion that Entra would refuse anyway, before a request is made, with an error that
 * says what is wrong with it: not a JWT, or expired for longer than `skewSeconds` (whatever writes
 * or mints it stopped doing so). Issuer, subject, audience and signature are left to Entra, which
 * alone knows the federated identity credentials. `what` names the assertion's source.
 */
export function checkAssertion(token: Sensitive<string>, what: string, nowMs: number, skewSeconds: number): void {
  const claims = unverifiedClaims(token);
  if (claims === undefined) {
    throw new CredmeshError("unauthenticated", `${what} does not hold a JWT`);
  }
  const exp = claims["exp"];
  if (typeof exp === "number" && exp + skewSeconds < nowMs / 1000) {
    throw new CredmeshError(
      "unauthenticated",
      `${what} holds a client assertion that expired at ${new Date(exp * 1000).toISOString()}; is it still being renewed?`,
      { code: "AssertionExpired" },
    );
  }
}
