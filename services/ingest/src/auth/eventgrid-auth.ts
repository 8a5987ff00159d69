import type { IncomingHttpHeaders } from "node:http";
import type { EventGridAuthConfig } from "../eventgrid-config.ts";
import { EntraTokenAuthenticator } from "./entra-token.ts";
import { SharedKeyAuthenticator } from "./shared-key-auth.ts";
import { createIssuerKeys, type IssuerKeys } from "./signing-keys.ts";

/**
 * Why an Event Grid delivery was not authenticated. Logged and never sent back in detail: the
 * 401 body says only "unauthorized", so a prober learns nothing about which check failed.
 */
const AUTH_FAILURES = {
  missing_credentials: "no bearer token or key in the configured header",
  invalid_credentials: "the key matches none of the configured keys",
  malformed_token: "the bearer token is not a compact JWS",
  algorithm_not_allowed: "the token's alg is not on the allow-list (none and HS* never are)",
  issuer_not_allowed: "the token's iss is not one of the configured issuers",
  unknown_signing_key: "no key of the issuer's JWKS matches the token's kid and alg",
  bad_signature: "the signature does not verify with the issuer's key",
  expired: "exp is past, beyond the clock tolerance",
  not_yet_valid: "nbf is in the future, beyond the clock tolerance",
  wrong_audience: "aud is not one of the configured audiences",
  missing_claim: "a required claim (exp) is missing or malformed",
  wrong_tenant: "tid is not the configured tenant",
  wrong_app: "appid (v1) / azp (v2) is not the Event Grid application",
  missing_role: "roles does not contain the configured app role",
  signing_keys_unavailable: "the issuer's signing keys could not be loaded (retryable: answered 503)",
} as const satisfies Record<string, string>;

export type AuthFailure = keyof typeof AUTH_FAILURES;

/** What a failure means, in words an operator reads in the log line of a refused delivery. */
export function authFailureSummary(failure: AuthFailure): string {
  return AUTH_FAILURES[failure];
}

export type AuthResult =
  | { readonly ok: true; readonly principal: Readonly<Record<string, string>> }
  | {
      readonly ok: false;
      readonly failure: AuthFailure;
      /** True when the sender should retry (the keys could not be loaded), so the answer is 503, not 401. */
      readonly retryable: boolean;
      /** Unverified, non-secret token fields (alg, kid, iss, aud) for the operator's log line. */
      readonly detail?: Readonly<Record<string, string>>;
      readonly cause?: unknown;
    };

/** Authenticates Event Grid deliveries, validation handshakes included. */
export interface WebhookAuthenticator {
  readonly mode: EventGridAuthConfig["mode"];
  /** The WWW-Authenticate value of a 401, when the scheme has one. */
  readonly challenge: string | undefined;
  authenticate(headers: IncomingHttpHeaders): Promise<AuthResult>;
  /** Loads what authentication needs ahead of the first delivery (signing keys); rejects on failure. */
  warmUp(): Promise<void>;
}

export function createEventGridAuthenticator(
  config: EventGridAuthConfig,
  options: { keys?: IssuerKeys; now?: () => Date } = {},
): WebhookAuthenticator {
  if (config.mode === "shared-key") return new SharedKeyAuthenticator(config);
  return new EntraTokenAuthenticator(config, {
    keys: options.keys ?? createIssuerKeys({ ...(config.jwksUrl === undefined ? {} : { jwksUrl: config.jwksUrl }) }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}

export function failed(failure: AuthFailure, extra: { detail?: Record<string, string>; cause?: unknown } = {}): AuthResult {
  return { ok: false, failure, retryable: failure === "signing_keys_unavailable", ...extra };
}

/** One header value; a repeated header is no credential at all. */
export function singleHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}
