import type { X509Certificate } from "node:crypto";
import type { CertificateFacts, CertificateState } from "@credmesh/events";
import { checkCertificateChain, commonNamesOf } from "@credmesh/identity";
import type { CertificateSourceConfig } from "../cells.ts";
import { formatDuration } from "../durations.ts";
import { factsOf, identityProblems } from "./inspect.ts";

/** What reading one watched place gave. */
export type PlaceReading =
  | { kind: "absent"; detail: string }
  | { kind: "unreadable"; detail: string }
  | { kind: "invalid"; detail: string }
  | { kind: "certificate"; certificate: X509Certificate; intermediates: readonly X509Certificate[] };

/** The trust anchors of a source, or why they could not be read. */
export type Anchors = { ok: true; certificates: readonly X509Certificate[] } | { ok: false; detail: string } | undefined;

/** The watcher's verdict on one place at one moment. */
export interface Judgement {
  state: CertificateState;
  /** near_expiry: the threshold crossed (ms before notAfter). Part of the state: a lower threshold is a new transition. */
  thresholdMs?: number;
  facts?: CertificateFacts;
  renewalAt?: Date;
  problems: string[];
}

/**
 * Judges one certificate place: the first state that applies, in this order — `absent`,
 * `unreadable`, `invalid`, `expired`, `not_yet_valid`, `cn_mismatch`, `chain_incomplete`,
 * `near_expiry`, `renewal_due`, `ok` — with every problem seen listed. The chain, CN and validity
 * checks are the Roles Anywhere pre-flight check's ({@link checkCertificateChain}), so the watcher
 * and the cell judge a certificate alike.
 *
 * `near_expiry` applies only past the renewal point: a short-lived certificate that is not due for
 * renewal yet is healthy however close its expiry, and a renewal that silently failed shows as
 * `renewal_due` first. Pure.
 */
export function judge(reading: PlaceReading, source: Pick<CertificateSourceConfig, "kind" | "expectedCommonName" | "renewAt" | "nearExpiryMs">, anchors: Anchors, now: number): Judgement {
  if (reading.kind !== "certificate") return { state: reading.kind, problems: [reading.detail] };
  const { certificate } = reading;
  const facts = factsOf(certificate);
  const invalid = identityProblems(certificate);
  if (invalid.length > 0 && source.kind === "leaf") return { state: "invalid", facts, problems: invalid };

  const notBefore = Date.parse(certificate.validFrom);
  const notAfter = Date.parse(certificate.validTo);
  const renewalAt = new Date(renewalPoint(notBefore, notAfter, source.renewAt));
  const problems: string[] = [];
  let state: CertificateState | undefined;
  if (now > notAfter) {
    state = "expired";
    problems.push(`"${facts.subject}" expired at ${facts.notAfter}`);
  } else if (now < notBefore) {
    state = "not_yet_valid";
    problems.push(`"${facts.subject}" is not valid before ${facts.notBefore}`);
  }

  if (source.kind === "leaf") {
    const expected = source.expectedCommonName ?? commonNamesOf(certificate)[0] ?? "";
    const check = checkCertificateChain({
      leaf: certificate,
      intermediates: reading.intermediates,
      trustAnchors: anchors?.ok ? anchors.certificates : [],
      expectedCommonName: expected,
      now,
    });
    const mismatch = check.problems.filter((p) => p.kind === "common_name_mismatch");
    const chain = check.problems.filter(
      (p) => p.kind === "incomplete_chain" || p.kind === "not_a_ca" || ((p.kind === "expired" || p.kind === "not_yet_valid") && p.certificate !== "leaf"),
    );
    if (mismatch.length > 0) {
      state ??= "cn_mismatch";
      problems.push(...mismatch.map((p) => p.message));
    }
    if (anchors?.ok === false) {
      state ??= "chain_incomplete";
      problems.push(`the trust anchor cannot be read: ${anchors.detail}`);
    } else if (anchors?.ok && chain.length > 0) {
      state ??= "chain_incomplete";
      problems.push(...chain.map((p) => p.message));
    }
  }

  if (state === undefined && now >= renewalAt.getTime()) {
    const remaining = notAfter - now;
    const threshold = [...source.nearExpiryMs].sort((a, b) => a - b).find((limit) => remaining <= limit);
    if (threshold !== undefined) {
      problems.push(`"${facts.subject}" expires at ${facts.notAfter}, within ${formatDuration(threshold)}`);
      return { state: "near_expiry", thresholdMs: threshold, facts, renewalAt, problems };
    }
    problems.push(`"${facts.subject}" passed its renewal point ${renewalAt.toISOString()} and was not renewed`);
    return { state: "renewal_due", facts, renewalAt, problems };
  }
  return { state: state ?? "ok", facts, renewalAt, problems };
}

/** The renewal point: a fraction of the lifetime after notBefore, or a duration before notAfter. */
export function renewalPoint(notBefore: number, notAfter: number, renewAt: CertificateSourceConfig["renewAt"]): number {
  if ("fraction" in renewAt) return notBefore + (notAfter - notBefore) * renewAt.fraction;
  return notAfter - renewAt.beforeMs;
}
