import { X509Certificate } from "node:crypto";
import type { CertificateFacts } from "@credmesh/events";
import { commonNamesOf, dn } from "@credmesh/identity";
import { AsnParser } from "@peculiar/asn1-schema";
import { Certificate, Version } from "@peculiar/asn1-x509";

/** One PEM block of a file, parsed or not. */
export type PemCertificate = { ok: true; certificate: X509Certificate } | { ok: false; index: number; problem: string };

const BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Every CERTIFICATE block of a PEM text, parsed by the platform (node:crypto X509Certificate).
 * Other blocks — a private key in a combined file — are never looked at, so key material cannot
 * reach an event or a log.
 */
export function readPem(text: string): PemCertificate[] {
  return (text.match(BLOCK) ?? []).map((block, index) => {
    try {
      return { ok: true, certificate: new X509Certificate(block) };
    } catch {
      return { ok: false, index, problem: `certificate ${index + 1} cannot be parsed` };
    }
  });
}

/** The public facts events and metrics carry. */
export function factsOf(certificate: X509Certificate): CertificateFacts {
  const subjectCN = commonNamesOf(certificate)[0];
  const issuerCN = issuerCommonName(certificate);
  return {
    fingerprint: certificate.fingerprint256.toUpperCase(),
    serialNumber: certificate.serialNumber.toUpperCase().replace(/^0+(?=.)/, ""),
    subject: dn(certificate.subject).slice(0, 1024) || "(empty)",
    ...(subjectCN ? { subjectCN: subjectCN.slice(0, 256) } : {}),
    issuer: dn(certificate.issuer).slice(0, 1024) || "(empty)",
    ...(issuerCN ? { issuerCN: issuerCN.slice(0, 256) } : {}),
    notBefore: new Date(certificate.validFrom).toISOString(),
    notAfter: new Date(certificate.validTo).toISOString(),
  };
}

function issuerCommonName(certificate: X509Certificate): string | undefined {
  const cn = certificate.toLegacyObject().issuer?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

/**
 * Why a certificate cannot serve as a cell identity although it parses, or undefined:
 * - not X.509 v3 (Roles Anywhere and every modern verifier require v3 extensions); the version
 *   field is read with @peculiar/asn1-x509, as node:crypto does not expose it;
 * - a subject CN, subject attribute or first DNS/URI SAN that STS cannot carry: Roles Anywhere turns
 *   them into the session's source identity (the CN: 2–64 characters of `[\w+=,.@-]`) and principal
 *   tags (values up to 256 characters of letters, digits, spaces and `_.:/=+-@`), and refuses the
 *   session otherwise.
 */
export function identityProblems(certificate: X509Certificate): string[] {
  const problems: string[] = [];
  try {
    const parsed = AsnParser.parse(certificate.raw, Certificate);
    if (parsed.tbsCertificate.version !== Version.v3) {
      problems.push(`"${dn(certificate.subject)}" is an X.509 v${parsed.tbsCertificate.version + 1} certificate, not v3`);
    }
  } catch {
    problems.push(`"${dn(certificate.subject)}" is not a DER certificate the ASN.1 schema accepts`);
  }
  const [cn] = commonNamesOf(certificate);
  if (cn !== undefined && !/^[\w+=,.@-]{2,64}$/.test(cn)) {
    problems.push(`subject CN ${JSON.stringify(cn.slice(0, 80))} cannot be an STS source identity (2–64 characters of letters, digits and +=,.@_-)`);
  }
  for (const [name, value] of Object.entries(certificate.toLegacyObject().subject ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && !TAG_VALUE.test(item)) problems.push(`subject ${name} ${JSON.stringify(item.slice(0, 80))} cannot be an STS session tag value`);
    }
  }
  const san = firstSans(certificate.subjectAltName);
  for (const value of san) {
    if (!TAG_VALUE.test(value)) problems.push(`subject alternative name ${JSON.stringify(value.slice(0, 80))} cannot be an STS session tag value`);
  }
  return problems;
}

/** STS session tag values: at most 256 characters of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`. */
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

/** The first DNS and first URI name of a SAN string (`DNS:a, URI:b`), as Roles Anywhere maps them. */
function firstSans(san: string | undefined): string[] {
  if (!san) return [];
  const entries = san.split(/,\s*/);
  const first = (prefix: string): string | undefined => entries.find((entry) => entry.startsWith(prefix))?.slice(prefix.length);
  return [first("DNS:"), first("URI:")].filter((value): value is string => value !== undefined);
}
