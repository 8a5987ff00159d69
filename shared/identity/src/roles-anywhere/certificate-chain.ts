import { X509Certificate } from "node:crypto";
import { CredmeshError, type ReasonCode } from "@credmesh/errors";

/**
 * What can be wrong with a cell's certificate before Roles Anywhere is asked, and the reason each is
 * reported with. All are permanent: retrying cannot help until a person, or the certificate's
 * renewal, changes a file. A renewed certificate is read on the next credential refresh.
 */
export const CERTIFICATE_PROBLEM_REASONS = {
  /** A certificate on the path (leaf, intermediate or anchor) is past its notAfter. */
  expired: "unauthenticated",
  /** A certificate on the path is before its notBefore. */
  not_yet_valid: "unauthenticated",
  /** No path from the leaf to a trust anchor: an intermediate is missing, or is not the one that signed. */
  incomplete_chain: "configuration",
  /** A certificate that issued another on the path is not a CA (basicConstraints CA:FALSE or absent). */
  not_a_ca: "configuration",
  /** The leaf's subject CN is not the cell's expected CN. */
  common_name_mismatch: "configuration",
  /** The private key does not belong to the leaf certificate. */
  key_mismatch: "configuration",
  /** The key is neither RSA nor EC. */
  unsupported_key: "configuration",
  /** A certificate or key file does not hold what it should. */
  unreadable: "configuration",
} as const satisfies Record<string, ReasonCode>;
export type CertificateProblemKind = keyof typeof CERTIFICATE_PROBLEM_REASONS;

/** One finding. `message` names certificates by subject and issuer DN only, never key material. */
export interface CertificateProblem {
  readonly kind: CertificateProblemKind;
  readonly message: string;
  /** For validity problems: which certificate of the path is out of its window. */
  readonly certificate?: "leaf" | "intermediate" | "anchor";
}

export interface CertificateChainInput {
  /** The cell's certificate, which signs CreateSession. */
  readonly leaf: X509Certificate;
  /** Candidate intermediates, in any order; those not on the path are ignored. */
  readonly intermediates: readonly X509Certificate[];
  /** The Roles Anywhere trust anchor's CA certificate(s). */
  readonly trustAnchors: readonly X509Certificate[];
  /** The CN the leaf's subject must have: the cell's identity, which the role's trust policy checks. */
  readonly expectedCommonName: string;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

/** The result of {@link checkCertificateChain}. */
export interface CertificateCheck {
  readonly ok: boolean;
  readonly problems: readonly CertificateProblem[];
  /**
   * The intermediates on the path from the leaf to the anchor, leaf side first, excluding both: what
   * X-Amz-X509-Chain carries. Complete only when no `incomplete_chain` problem was found.
   */
  readonly intermediates: readonly X509Certificate[];
  /** The trust anchor the path ends at, if one was reached. */
  readonly anchor: X509Certificate | undefined;
  /** The earliest notAfter on the path: when this chain stops being usable. */
  readonly expiresAt: Date;
  /** The leaf's subject CN, when it has exactly one. */
  readonly commonName: string | undefined;
  /** The leaf's subject DN, for messages and logs. */
  readonly subject: string;
}

/** Longer paths than this are not followed (guards against a cycle of cross-signed certificates). */
const MAX_PATH_LENGTH = 8;

/**
 * Checks, without any network call, what Roles Anywhere will check of the certificate and what the
 * role's trust policy is expected to check: the leaf and every certificate on its path are within
 * their validity window, the path reaches a trust anchor with every signature verifying, every
 * issuer is a CA, and the leaf's subject CN is the cell's. Collects every problem it can see rather
 * than stopping at the first, so the identity-watcher can report them all.
 *
 * @see ../../../../shared/SPEC.md section 3
 */
export function checkCertificateChain(input: CertificateChainInput): CertificateCheck {
  const problems: CertificateProblem[] = [];
  const { leaf } = input;

  const commonNames = commonNamesOf(leaf);
  const commonName = commonNames.length === 1 ? commonNames[0] : undefined;
  if (commonName !== input.expectedCommonName) {
    const found = commonNames.length === 0 ? "no CN" : commonNames.map((cn) => JSON.stringify(cn)).join(" and ");
    problems.push({
      kind: "common_name_mismatch",
      message: `certificate "${dn(leaf.subject)}" has subject ${found}; the cell expects CN ${JSON.stringify(input.expectedCommonName)}`,
    });
  }

  const path: X509Certificate[] = [leaf];
  let anchor: X509Certificate | undefined;
  for (let current = leaf; path.length <= MAX_PATH_LENGTH; ) {
    anchor = input.trustAnchors.find((candidate) => signed(candidate, current));
    if (anchor) break;
    const next = input.intermediates.find(
      (candidate) => !path.some((onPath) => onPath.fingerprint256 === candidate.fingerprint256) && signed(candidate, current),
    );
    if (!next) {
      problems.push({ kind: "incomplete_chain", message: missingIssuer(current, [...input.intermediates, ...input.trustAnchors]) });
      break;
    }
    path.push(next);
    current = next;
  }
  if (!anchor && path.length > MAX_PATH_LENGTH) {
    problems.push({ kind: "incomplete_chain", message: `no trust anchor within ${MAX_PATH_LENGTH} certificates of "${dn(leaf.subject)}"` });
  }

  const issuers = anchor ? [...path.slice(1), anchor] : path.slice(1);
  for (const issuer of issuers) {
    if (!issuer.ca) {
      problems.push({ kind: "not_a_ca", message: `"${dn(issuer.subject)}" issued a certificate on the path but is not a CA certificate` });
    }
  }

  const onPath = anchor ? [...path, anchor] : path;
  let expiresAt = Number.POSITIVE_INFINITY;
  for (const [index, certificate] of onPath.entries()) {
    const role = index === 0 ? "certificate" : certificate === anchor ? "trust anchor" : "intermediate CA certificate";
    const which = index === 0 ? "leaf" : certificate === anchor ? "anchor" : "intermediate";
    const notBefore = Date.parse(certificate.validFrom);
    const notAfter = Date.parse(certificate.validTo);
    expiresAt = Math.min(expiresAt, notAfter);
    if (input.now > notAfter) {
      problems.push({ kind: "expired", message: `${role} "${dn(certificate.subject)}" expired at ${new Date(notAfter).toISOString()}`, certificate: which });
    } else if (input.now < notBefore) {
      problems.push({
        kind: "not_yet_valid",
        message: `${role} "${dn(certificate.subject)}" is not valid before ${new Date(notBefore).toISOString()}`,
        certificate: which,
      });
    }
  }

  return {
    ok: problems.length === 0,
    problems,
    intermediates: path.slice(1),
    anchor,
    expiresAt: new Date(expiresAt),
    commonName,
    subject: dn(leaf.subject),
  };
}

/** The permanent error for a failed check: the first problem's reason and kind, every message. */
export function certificateCheckError(problems: readonly CertificateProblem[]): CredmeshError {
  const [first, ...rest] = problems;
  if (!first) return new CredmeshError("internal", "certificate check reported no problem");
  const more = rest.length === 0 ? "" : `; and ${rest.map((p) => p.message).join("; ")}`;
  return new CredmeshError(CERTIFICATE_PROBLEM_REASONS[first.kind], `Roles Anywhere certificate check failed: ${first.message}${more}`, {
    code: first.kind,
  });
}

/** The subject CN values of a certificate (usually one). */
export function commonNamesOf(certificate: X509Certificate): string[] {
  // The legacy object holds the parsed, unescaped attribute values; the `subject` string is escaped.
  const cn = certificate.toLegacyObject().subject?.CN;
  if (cn === undefined) return [];
  return Array.isArray(cn) ? cn : [cn];
}

/** Every CERTIFICATE block of a PEM text, in order; other blocks (a key in a combined file) are skipped. */
export function parsePemCertificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new CredmeshError("configuration", `${what}: certificate ${index + 1} cannot be parsed`, { cause: error, code: "unreadable" });
    }
  });
}

/** A DN on one line: Node gives one attribute per line, with `,` inside values already escaped. */
export function dn(name: string): string {
  return name.split("\n").join(", ");
}

/** `issuer` issued `subject`: names (and key identifiers) match and issuer's key verifies the signature. */
function signed(issuer: X509Certificate, subject: X509Certificate): boolean {
  // `a.checkIssued(b)` asks whether a was issued by b.
  return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

function missingIssuer(certificate: X509Certificate, offered: readonly X509Certificate[]): string {
  const base = `the certificate chain is incomplete: "${dn(certificate.subject)}" was issued by "${dn(certificate.issuer)}", `;
  const sameName = offered.filter((candidate) => candidate.subject === certificate.issuer);
  if (sameName.length > 0) {
    return `${base}but the certificate of that name in the chain or trust anchor file did not sign it (a different key: renewed or re-issued CA?)`;
  }
  return `${base}which is neither in the certificate or chain file nor a trust anchor (missing intermediate)`;
}
