/**
 * Entra's check of a client assertion presented for a federated identity credential (workload
 * identity federation): the assertion's issuer, subject and audience must match one of the
 * application's federated identity credentials exactly (case-sensitive, as Entra has matched since
 * 2024), its signature must verify against that issuer's JWKS, and it must be within its validity
 * period (Entra tolerates five minutes of clock skew).
 *
 * The outcomes carry the AADSTS numbers Entra answers with. The texts of 700211, 700212, 700213,
 * 700024 and 700016 follow responses quoted in public reports; the others are unverified — clients
 * must branch on `error` and `error_codes`, never on `error_description`.
 */
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify } from "jose";
import type { JWTPayload } from "jose";

/** The audience Entra recommends for federated identity credentials, and the default here. */
export const TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";
export const JWT_BEARER_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Entra's tolerance for clocks that disagree. */
const ASSERTION_CLOCK_SKEW_SECONDS = 300;

/**
 * A federated identity credential on an application (or user-assigned managed identity): which
 * external tokens may act as the application `clientId`.
 */
export interface FederatedCredential {
  /** The application (client) id the credential belongs to. */
  readonly clientId: string;
  /** Must equal the assertion's `iss`, e.g. an EKS cluster's OIDC issuer URL. */
  readonly issuer: string;
  /** Must equal the assertion's `sub`, e.g. `system:serviceaccount:<namespace>:<name>`. */
  readonly subject: string;
  /** Must be one of the assertion's `aud` values. Default `api://AzureADTokenExchange`. */
  readonly audience?: string;
  /**
   * Where the issuer's signing keys are fetched (http or https). Entra finds them through the
   * issuer's OpenID discovery document; the emulator is told directly.
   */
  readonly jwksUri: string;
}

/** A federated exchange the emulator accepted; for test diagnostics. */
export interface FederatedExchange {
  readonly clientId: string;
  readonly issuer: string;
  readonly subject: string;
  /** The assertion's `jti`, when it has one: tells which token of a rotated file was used. */
  readonly jti: string | undefined;
  readonly at: Date;
}

/** The result of checking an assertion. */
export type AssertionCheck =
  | { readonly ok: true; readonly credential: FederatedCredential; readonly claims: JWTPayload }
  | { readonly ok: false; readonly failure: EntraFailure };

/** An Entra error: the HTTP status, the OAuth `error`, and the AADSTS number and text. */
export interface EntraFailure {
  readonly status: number;
  readonly error: string;
  readonly code: number;
  readonly description: string;
}

/** Checks a federated credential's settings; throws naming the bad setting. */
function validateFederatedCredential(credential: FederatedCredential): FederatedCredential {
  for (const field of ["clientId", "issuer", "subject", "jwksUri"] as const) {
    if (typeof credential[field] !== "string" || credential[field] === "") {
      throw new Error(`federated credential: ${field} must be a non-empty string`);
    }
  }
  let jwks: URL;
  try {
    jwks = new URL(credential.jwksUri);
  } catch {
    throw new Error(`federated credential: jwksUri is not a URL: ${credential.jwksUri}`);
  }
  if (jwks.protocol !== "http:" && jwks.protocol !== "https:") {
    throw new Error(`federated credential: jwksUri must be http or https: ${credential.jwksUri}`);
  }
  return { ...credential, audience: credential.audience ?? TOKEN_EXCHANGE_AUDIENCE };
}

/** The federated identity credentials of the emulated tenant, and the check Entra applies. */
export class FederatedCredentials {
  readonly #credentials: FederatedCredential[] = [];
  readonly #jwks = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  readonly #tenantId: string;

  constructor(tenantId: string, credentials: readonly FederatedCredential[] = []) {
    this.#tenantId = tenantId;
    for (const credential of credentials) this.add(credential);
  }

  add(credential: FederatedCredential): void {
    this.#credentials.push(validateFederatedCredential(credential));
  }

  list(): readonly FederatedCredential[] {
    return [...this.#credentials];
  }

  /** Entra's checks, in the order its errors suggest: the application, the record, then the token. */
  async check(clientId: string, assertion: string): Promise<AssertionCheck> {
    const mine = this.#credentials.filter((c) => c.clientId === clientId);
    if (mine.length === 0) {
      return fail(400, "unauthorized_client", 700016,
        `Application with identifier '${clientId}' was not found in the directory '${this.#tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
    }
    let claims: JWTPayload;
    try {
      claims = decodeJwt(assertion);
    } catch {
      return fail(400, "invalid_request", 50027, "JWT token is invalid or malformed.");
    }
    const iss = typeof claims.iss === "string" ? claims.iss : "";
    const sub = typeof claims.sub === "string" ? claims.sub : "";
    const audiences = typeof claims.aud === "string" ? [claims.aud] : (claims.aud ?? []);
    const byIssuer = mine.filter((c) => c.issuer === iss);
    if (byIssuer.length === 0) {
      return fail(400, "invalid_client", 700211,
        `No matching federated identity record found for presented assertion issuer '${iss}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`);
    }
    const bySubject = byIssuer.filter((c) => c.subject === sub);
    if (bySubject.length === 0) {
      return fail(400, "invalid_client", 700213,
        `No matching federated identity record found for presented assertion subject '${sub}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`);
    }
    const credential = bySubject.find((c) => audiences.includes(c.audience ?? TOKEN_EXCHANGE_AUDIENCE));
    if (credential === undefined) {
      return fail(400, "invalid_client", 700212,
        `No matching federated identity record found for presented assertion audience '${audiences.join(", ")}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`);
    }
    try {
      const { payload } = await jwtVerify(assertion, this.#keysOf(credential.jwksUri), {
        issuer: credential.issuer,
        subject: credential.subject,
        audience: credential.audience ?? TOKEN_EXCHANGE_AUDIENCE,
        algorithms: ["RS256"],
        requiredClaims: ["exp"],
        clockTolerance: ASSERTION_CLOCK_SKEW_SECONDS,
      });
      return { ok: true, credential, claims: payload };
    } catch (error) {
      return { ok: false, failure: verificationFailure(error, claims) };
    }
  }

  #keysOf(jwksUri: string): ReturnType<typeof createRemoteJWKSet> {
    let keys = this.#jwks.get(jwksUri);
    if (!keys) {
      // A short cooldown lets a test issuer rotate its key and be picked up quickly.
      keys = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 3_000, cooldownDuration: 1_000, cacheMaxAge: 60_000 });
      this.#jwks.set(jwksUri, keys);
    }
    return keys;
  }
}

function verificationFailure(error: unknown, claims: JWTPayload): EntraFailure {
  if (error instanceof errors.JWTExpired || (error instanceof errors.JWTClaimValidationFailed && ["nbf", "exp"].includes(error.claim))) {
    const iso = (seconds: unknown): string =>
      typeof seconds === "number" ? new Date(seconds * 1000).toISOString() : "(none)";
    return failure(400, "invalid_client", 700024,
      `Client assertion is not within its valid time range. Current time: ${new Date().toISOString()}, assertion valid from ${iso(claims.nbf ?? claims.iat)}, expiry time of assertion ${iso(claims.exp)}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`);
  }
  if (
    error instanceof errors.JWSSignatureVerificationFailed ||
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys ||
    error instanceof errors.JOSEAlgNotAllowed
  ) {
    return failure(400, "invalid_client", 700027, "Client assertion failed signature validation.");
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid || error instanceof errors.JWTClaimValidationFailed) {
    return failure(400, "invalid_request", 50027, "JWT token is invalid or malformed.");
  }
  // The issuer's keys could not be fetched: timeout, refused connection, not a JWKS.
  return failure(400, "invalid_request", 90061, "Request to External OIDC endpoint failed.");
}

function failure(status: number, error: string, code: number, text: string): EntraFailure {
  return { status, error, code, description: `AADSTS${code}: ${text}` };
}

function fail(status: number, error: string, code: number, text: string): AssertionCheck {
  return { ok: false, failure: failure(status, error, code, text) };
}
