/**
 * A stand-in for Entra ID as seen by a workload with a managed identity: the IMDS token endpoint,
 * OpenID discovery, a JWKS, and the check Key Vault applies to incoming bearer tokens.
 *
 * Tokens are real RS256 JWTs signed by a key generated at startup, so a verifier can check them
 * against the published JWKS exactly as it would check Entra's.
 */
import { createHash, randomBytes } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, jwtVerify } from "jose";
import type { JWK, JWTPayload } from "jose";

/** The audience Key Vault expects (FORMATS.md §E "Other errors": resource `https://vault.azure.net`). */
export const KEY_VAULT_RESOURCE = "https://vault.azure.net";
/** Audiences Key Vault accepts: the resource URI with or without a slash, and its application id. */
const KEY_VAULT_AUDIENCES: ReadonlySet<string> = new Set([
  KEY_VAULT_RESOURCE,
  `${KEY_VAULT_RESOURCE}/`,
  "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
]);

/** The tenant used when none is configured; obviously fake, stable across runs. */
export const DEFAULT_TENANT_ID = "c0ffee00-0000-4000-8000-00000000000a";

/** A managed identity: the system-assigned one, or a user-assigned one picked by `client_id`. */
export interface ManagedIdentity {
  readonly clientId: string;
  readonly objectId: string;
}

/** The JSON the IMDS token endpoint returns; numbers are strings, as IMDS sends them. */
export interface ImdsTokenResponse {
  readonly access_token: string;
  readonly refresh_token: "";
  readonly expires_in: string;
  readonly expires_on: string;
  readonly ext_expires_in: string;
  readonly not_before: string;
  readonly resource: string;
  readonly token_type: "Bearer";
  readonly client_id: string;
}

/** Entra's v2 token endpoint answer to a client-credentials request; numbers are numbers here. */
export interface EntraTokenResponse {
  readonly token_type: "Bearer";
  readonly expires_in: number;
  readonly ext_expires_in: number;
  readonly access_token: string;
}

/** The outcome of checking a bearer token presented to the vault. */
export type TokenCheck =
  | { readonly ok: true; readonly claims: JWTPayload }
  | { readonly ok: false; readonly message: string };

/** Settings of a {@link TokenIssuer}. */
export interface TokenIssuerOptions {
  /** `https://127.0.0.1:<port>`: the emulator serves the identity endpoints on its own origin. */
  readonly origin: string;
  readonly tenantId: string;
  readonly tokenLifetimeSeconds: number;
}

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

/** The issuer's RS256 key pair and the public half as a JWK (with `kid`). */
export interface SigningKeys {
  readonly pair: KeyPair;
  readonly publicJwk: JWK;
}

/**
 * Generates a fresh signing key. Separate from {@link TokenIssuer} so that key generation can run
 * while the server is still binding its port, which the issuer's URLs depend on.
 */
export async function generateSigningKeys(): Promise<SigningKeys> {
  const pair = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(pair.publicKey);
  const kid = createHash("sha256").update(JSON.stringify(jwk)).digest("base64url").slice(0, 27);
  return { pair, publicJwk: { ...jwk, kid, use: "sig", alg: "RS256" } };
}

/** Signs managed-identity tokens and verifies them for the vault. */
export class TokenIssuer {
  readonly tenantId: string;
  /** `iss` of every token: `<origin>/<tenantId>/v2.0`, shaped like Entra's v2 issuer. */
  readonly issuer: string;
  readonly jwksUri: string;
  readonly openIdConfigurationUri: string;
  readonly tokenEndpoint: string;
  /** Entra's v2 token endpoint of the tenant: client credentials with a federated client assertion. */
  readonly entraTokenEndpoint: string;
  /** The authority host an MSAL client is configured with (`authorityHost`): the emulator's origin. */
  readonly authorityHost: string;
  /** The system-assigned identity, used when a token request names no `client_id`. */
  readonly systemIdentity: ManagedIdentity;
  readonly #keys: KeyPair;
  readonly #publicJwk: JWK;
  readonly #lifetimeSeconds: number;
  readonly #rolesFor: (clientId: string, resource: string) => string[];

  constructor(options: TokenIssuerOptions, keys: SigningKeys, rolesFor: (clientId: string, resource: string) => string[] = () => []) {
    this.tenantId = options.tenantId;
    this.issuer = `${options.origin}/${options.tenantId}/v2.0`;
    this.jwksUri = `${options.origin}/${options.tenantId}/discovery/v2.0/keys`;
    this.openIdConfigurationUri = `${this.issuer}/.well-known/openid-configuration`;
    this.tokenEndpoint = `${options.origin}/metadata/identity/oauth2/token`;
    this.entraTokenEndpoint = `${options.origin}/${options.tenantId}/oauth2/v2.0/token`;
    this.authorityHost = options.origin;
    this.systemIdentity = {
      clientId: stableUuid(`client:${options.tenantId}`),
      objectId: stableUuid(`object:${options.tenantId}`),
    };
    this.#keys = keys.pair;
    this.#publicJwk = keys.publicJwk;
    this.#lifetimeSeconds = options.tokenLifetimeSeconds;
    this.#rolesFor = rolesFor;
  }

  /**
   * The identity a token request acts as. A `client_id` selects a user-assigned identity whose
   * object id is derived from it, so the same client id always maps to the same principal.
   */
  identityFor(clientId: string | undefined): ManagedIdentity {
    if (clientId === undefined || clientId === this.systemIdentity.clientId) return this.systemIdentity;
    return { clientId, objectId: stableUuid(`object:${this.tenantId}:${clientId}`) };
  }

  /** Issues an access token for `resource` (the token's audience) in the IMDS response shape. */
  async issue(resource: string, clientId: string | undefined): Promise<ImdsTokenResponse> {
    const identity = this.identityFor(clientId);
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.#lifetimeSeconds;
    const accessToken = await this.#sign(resource, identity, now);
    return {
      access_token: accessToken,
      refresh_token: "",
      expires_in: String(this.#lifetimeSeconds),
      expires_on: String(exp),
      ext_expires_in: String(this.#lifetimeSeconds),
      not_before: String(now),
      resource,
      token_type: "Bearer",
      client_id: identity.clientId,
    };
  }

  /**
   * Issues an app-only access token for `resource` to the application `clientId`, in the shape of
   * Entra's v2 token endpoint answer to a client-credentials request. The principal is the one
   * {@link identityFor} derives, so an application reached by IMDS or by federation is the same.
   */
  async issueForApplication(resource: string, clientId: string): Promise<EntraTokenResponse> {
    const now = Math.floor(Date.now() / 1000);
    return {
      token_type: "Bearer",
      expires_in: this.#lifetimeSeconds,
      ext_expires_in: this.#lifetimeSeconds,
      access_token: await this.#sign(resource, this.identityFor(clientId), now),
    };
  }

  async #sign(resource: string, identity: ManagedIdentity, now: number): Promise<string> {
    // App-only tokens carry the application permissions granted on the resource (Graph).
    const roles = this.#rolesFor(identity.clientId, resource);
    return new SignJWT({
      ...(roles.length > 0 ? { roles } : {}),
      tid: this.tenantId,
      oid: identity.objectId,
      azp: identity.clientId,
      azpacr: "2",
      idtyp: "app",
      ver: "2.0",
      uti: randomBytes(16).toString("base64url"),
    })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: this.#publicJwk.kid ?? "" })
      .setIssuer(this.issuer)
      .setAudience(resource)
      .setSubject(identity.objectId)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + this.#lifetimeSeconds)
      .sign(this.#keys.privateKey);
  }

  /** Key Vault's check of a bearer token: our signature, our issuer, unexpired, a vault audience. */
  async verifyForKeyVault(token: string): Promise<TokenCheck> {
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, this.#keys.publicKey, {
        issuer: this.issuer,
        algorithms: ["RS256"],
      }));
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { ok: false, message: `Token validation failed (${typeof code === "string" ? code : "invalid token"}).` };
    }
    const audiences = typeof claims.aud === "string" ? [claims.aud] : (claims.aud ?? []);
    if (!audiences.some((aud) => KEY_VAULT_AUDIENCES.has(aud))) {
      // Text of the real AKV10022 error, as quoted in many reports.
      return {
        ok: false,
        message: `AKV10022: Invalid audience. Expected ${KEY_VAULT_RESOURCE}, found: ${audiences.join(", ")}.`,
      };
    }
    return { ok: true, claims };
  }

  /** The claims of a token this issuer signed for `audience`, or undefined when it is not one. */
  async verifyFor(token: string, audience: string): Promise<JWTPayload | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#keys.publicKey, { issuer: this.issuer, audience: [audience, `${audience}/`], algorithms: ["RS256"] });
      return payload;
    } catch {
      return undefined;
    }
  }

  /** The OpenID Provider metadata a verifier discovers the JWKS from. */
  openIdConfiguration(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: this.jwksUri,
      // MSAL, with instance discovery disabled, reads its endpoints from here and insists on these
      // four fields (isOpenIdConfigResponse in @azure/msal-common); issuer must share the origin.
      token_endpoint: this.entraTokenEndpoint,
      authorization_endpoint: `${this.authorityHost}/${this.tenantId}/oauth2/v2.0/authorize`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      response_types_supported: ["token"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      tenant_region_scope: "emulator",
    };
  }

  /** The JSON Web Key Set with the current signing key. */
  jwks(): { keys: JWK[] } {
    return { keys: [{ ...this.#publicJwk }] };
  }
}

/** A UUID-shaped id derived from `seed`, so ids are stable across runs without being configured. */
function stableUuid(seed: string): string {
  const hex = createHash("sha256").update(seed).digest("hex");
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    `4${hex.slice(13, 16)}`,
    `${((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}`,
    hex.slice(20, 32),
  ].join("-");
}
