import { CredmeshError } from "@credmesh/errors";
import type { Logger, Sensitive } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { unverifiedClaims } from "./jwt-claims.ts";

/**
 * STS refuses a web identity token issued more than five minutes in the future of its own clock,
 * and Entra tolerates five minutes on an assertion's validity period: beyond that, a token cannot
 * work, and the local clock is the usual culprit.
 */
export const DEFAULT_CLOCK_SKEW_TOLERANCE_SECONDS = 300;

/** What the guard saw when it refused a token: identifiers and times only, never the token. */
export interface ClockSkewObservation {
  /** The credential source the token came from (the chain's metric label, e.g. `aws/web-identity-token-file`). */
  readonly source: string;
  /** The claim that was out of tolerance. */
  readonly claim: "iat" | "nbf";
  /** The claim's time. */
  readonly claimedAt: Date;
  /** The local clock when the token was checked. */
  readonly observedAt: Date;
  /** claim − local clock, in seconds: positive when the token claims to come from the future. */
  readonly offsetSeconds: number;
  readonly toleranceSeconds: number;
}

export interface ClockSkewGuardOptions {
  /** Default {@link DEFAULT_CLOCK_SKEW_TOLERANCE_SECONDS}. */
  toleranceSeconds?: number;
  now?: () => number;
  metrics?: Pick<Metrics, "identityClockSkew" | "identityClockSkewRefusals">;
  logger?: Logger;
  /** Told about every refusal (the replicator publishes it for the identity-watcher). Must not throw. */
  onRefusal?: (observation: ClockSkewObservation) => void;
}

/** How a token reached us, which decides what its issued-at can tell about the local clock. */
export interface TokenOrigin {
  /** Metric label of the credential source. */
  source: string;
  /** Names the token in an error message: "the web identity token file /var/run/...". */
  what: string;
  /**
   * True when the issuer minted the token for this very request (STS GetWebIdentityToken): its
   * issued-at is "now" on the issuer's clock, so a distance in either direction is skew. A token
   * read from a rotated file or served from IMDS's cache may be legitimately old, so for those only
   * an issued-at in the future says anything.
   */
  freshlyIssued: boolean;
}

/**
 * Refuses a web identity token or client assertion whose `iat` (or `nbf`) is further from the
 * local clock than the tolerance, before it is sent anywhere: the token would be rejected anyway,
 * and an error that says "the local clock is 412 s behind the issuer" is worth more than STS's or
 * Entra's. Every refusal is counted, logged, and handed to `onRefusal` for the identity-watcher,
 * which may quarantine the cell (SPEC section 2). The gauge keeps the last offset per source.
 *
 * Tokens that are not JWTs, or carry neither claim, pass: their consumer decides.
 *
 * @see ../../../shared/SPEC.md section 3
 */
export class ClockSkewGuard {
  readonly toleranceSeconds: number;
  readonly #now: () => number;
  readonly #options: ClockSkewGuardOptions;

  constructor(options: ClockSkewGuardOptions = {}) {
    const tolerance = options.toleranceSeconds ?? DEFAULT_CLOCK_SKEW_TOLERANCE_SECONDS;
    if (!Number.isFinite(tolerance) || tolerance < 0) {
      throw new CredmeshError("configuration", `clock skew tolerance must be a non-negative number of seconds (got ${String(tolerance)})`);
    }
    this.toleranceSeconds = tolerance;
    this.#now = options.now ?? Date.now;
    this.#options = options;
  }

  /** Throws `unauthenticated` with code `ClockSkew` when the token is out of tolerance. */
  check(token: Sensitive<string>, origin: TokenOrigin): void {
    const claims = unverifiedClaims(token);
    if (claims === undefined) return;
    const nowMs = this.#now();
    const now = nowMs / 1000;
    // The later of iat and nbf: the moment from which the issuer says the token exists.
    const times = (["iat", "nbf"] as const)
      .map((claim) => ({ claim, at: claims[claim] }))
      .filter((entry): entry is { claim: "iat" | "nbf"; at: number } => typeof entry.at === "number" && Number.isFinite(entry.at));
    if (times.length === 0) return;
    const latest = times.reduce((a, b) => (b.at > a.at ? b : a));
    const offset = Math.round(latest.at - now);
    // A possibly old token can only reveal a clock that is behind; report no skew otherwise.
    const skew = origin.freshlyIssued ? offset : Math.max(0, offset);
    this.#options.metrics?.identityClockSkew.set({ source: origin.source }, skew);

    const ahead = offset > this.toleranceSeconds;
    const behind = origin.freshlyIssued && -offset > this.toleranceSeconds;
    if (!ahead && !behind) return;

    const observation: ClockSkewObservation = {
      source: origin.source,
      claim: latest.claim,
      claimedAt: new Date(latest.at * 1000),
      observedAt: new Date(nowMs),
      offsetSeconds: offset,
      toleranceSeconds: this.toleranceSeconds,
    };
    this.#options.metrics?.identityClockSkewRefusals.inc({ source: origin.source });
    const { claimedAt: _claimedAt, observedAt: _observedAt, ...loggable } = observation;
    this.#options.logger?.error(
      { ...loggable, claimedAt: observation.claimedAt.toISOString(), observedAt: observation.observedAt.toISOString() },
      "token refused: clock skew beyond tolerance",
    );
    try {
      this.#options.onRefusal?.(observation);
    } catch {
      // Reporting must never turn a clear refusal into a different failure.
    }
    const direction = ahead
      ? `${offset} s in the future of the local clock: the local clock is behind the issuer's`
      : `${-offset} s before the local clock although it was just issued: the local clock is ahead of the issuer's`;
    throw new CredmeshError(
      "unauthenticated",
      `${origin.what} was refused before use: its ${latest.claim} ${observation.claimedAt.toISOString()} is ${direction} ` +
        `(tolerance ${this.toleranceSeconds} s); fix the host's time synchronisation (NTP)`,
      { code: "ClockSkew" },
    );
  }
}
