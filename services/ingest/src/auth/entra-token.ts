import type { IncomingHttpHeaders } from "node:http";
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from "jose";
import type { EntraAuthConfig } from "../eventgrid-config.ts";
import { failed, singleHeader, type AuthFailure, type AuthResult, type WebhookAuthenticator } from "./eventgrid-auth.ts";
import { SigningKeysUnavailableError, type IssuerKeys } from "./signing-keys.ts";

/**
 * Event Grid deliveries secured with Microsoft Entra ID (FORMATS.md D): every delivery, the
 * validation handshake included, carries `Authorization: Bearer <JWT>` issued to the Event Grid
 * application for the webhook's app registration. Verified here: the algorithm (allow-list,
 * before any key is looked up), the issuer (allow-list, which also picks the key set), the
 * signature against the issuer's JWKS, `aud`, `exp` and `nbf` with a clock tolerance, then the
 * Event Grid claims (`tid`, `appid`/`azp`, `roles`). The token is never logged.
 */
export class EntraTokenAuthenticator implements WebhookAuthenticator {
  readonly mode = "entra" as const;
  readonly challenge = 'Bearer realm="credmesh"';
  readonly #config: EntraAuthConfig;
  readonly #keys: IssuerKeys;
  readonly #now: () => Date;
  readonly #algorithms: ReadonlySet<string>;
  readonly #issuers: ReadonlySet<string>;

  constructor(config: EntraAuthConfig, options: { keys: IssuerKeys; now?: () => Date }) {
    this.#config = config;
    this.#keys = options.keys;
    this.#now = options.now ?? (() => new Date());
    this.#algorithms = new Set(config.algorithms);
    this.#issuers = new Set(config.issuers);
  }

  warmUp(): Promise<void> {
    return this.#keys.warmUp(this.#config.issuers);
  }

  async authenticate(headers: IncomingHttpHeaders): Promise<AuthResult> {
    const token = bearerToken(singleHeader(headers, "authorization"));
    if (token === undefined) return failed("missing_credentials");

    let header: ProtectedHeaderParameters;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      return failed("malformed_token");
    }
    const detail = describe(header, claims);
    // Checked before any key lookup: `none` and HMAC (alg confusion with a public key) never reach jose.
    if (typeof header.alg !== "string" || !this.#algorithms.has(header.alg)) return failed("algorithm_not_allowed", { detail });
    const issuer = claims.iss;
    if (typeof issuer !== "string" || !this.#issuers.has(issuer)) return failed("issuer_not_allowed", { detail });

    let payload: JWTPayload;
    try {
      const keys = await this.#keys.forIssuer(issuer);
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: [...this.#algorithms],
        issuer,
        audience: [...this.#config.audiences],
        clockTolerance: this.#config.clockToleranceSeconds,
        requiredClaims: ["exp"],
        currentDate: this.#now(),
      }));
    } catch (error) {
      return failed(classify(error), { detail, cause: error });
    }
    const policyFailure = checkEventGridClaims(payload, {
      ...(this.#config.tenantId === undefined ? {} : { tenantId: this.#config.tenantId }),
      ...(this.#config.appIds === undefined ? {} : { appIds: this.#config.appIds }),
      ...(this.#config.role === undefined ? {} : { role: this.#config.role }),
    });
    if (policyFailure !== undefined) return failed(policyFailure, { detail });
    return { ok: true, principal: { scheme: "entra", ...detail } };
  }
}

export interface EventGridClaimPolicy {
  /** `tid` must equal it (lowercase GUID). */
  readonly tenantId?: string;
  /** `appid` (v1) or `azp` (v2) must be one of them. */
  readonly appIds?: readonly string[];
  /** `roles` must contain it. */
  readonly role?: string;
}

/** The Event Grid specific checks on verified claims; undefined when they pass. */
export function checkEventGridClaims(claims: JWTPayload, policy: EventGridClaimPolicy): AuthFailure | undefined {
  if (policy.tenantId !== undefined && (typeof claims["tid"] !== "string" || claims["tid"].toLowerCase() !== policy.tenantId.toLowerCase())) {
    return "wrong_tenant";
  }
  if (policy.appIds !== undefined) {
    const app = typeof claims["appid"] === "string" ? claims["appid"] : typeof claims["azp"] === "string" ? claims["azp"] : undefined;
    if (app === undefined || !policy.appIds.some((id) => id.toLowerCase() === app.toLowerCase())) return "wrong_app";
  }
  if (policy.role !== undefined) {
    const roles = claims["roles"];
    if (!Array.isArray(roles) || !roles.includes(policy.role)) return "missing_role";
  }
  return undefined;
}

/** The compact JWS of `Authorization: Bearer <token>`; undefined for any other form. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = authorization === undefined ? null : /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*) *$/i.exec(authorization);
  return match?.[1];
}

/** Maps a jose (or key loading) failure to its reason. Anything unexpected is a malformed token. */
function classify(error: unknown): AuthFailure {
  if (error instanceof SigningKeysUnavailableError) return "signing_keys_unavailable";
  if (error instanceof errors.JWTExpired) return "expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "nbf":
        return "not_yet_valid";
      case "aud":
        return "wrong_audience";
      case "iss":
        return "issuer_not_allowed";
      default:
        return "missing_claim";
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return "bad_signature";
  if (error instanceof errors.JWKSNoMatchingKey) return "unknown_signing_key";
  if (error instanceof errors.JWKSMultipleMatchingKeys) return "bad_signature";
  if (error instanceof errors.JOSEAlgNotAllowed) return "algorithm_not_allowed";
  return "malformed_token";
}

/** Unverified, non-secret fields for the log line, each cut to a sane length. */
function describe(header: ProtectedHeaderParameters, claims: JWTPayload): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (key: string, value: unknown): void => {
    if (typeof value === "string") out[key] = value.slice(0, 200);
    else if (Array.isArray(value)) out[key] = value.filter((item) => typeof item === "string").join(",").slice(0, 200);
  };
  put("alg", header.alg);
  put("kid", header.kid);
  put("iss", claims.iss);
  put("aud", claims.aud);
  put("tid", claims["tid"]);
  put("appid", claims["appid"] ?? claims["azp"]);
  return out;
}
