import { type KeyObject, type X509Certificate, createPrivateKey } from "node:crypto";
import { CredmeshError } from "@credmesh/errors";
import { Sensitive, type Logger } from "@credmesh/logging";
import { tokenFromFile, type TokenFile } from "../token-file.ts";
import { CERTIFICATE_PROBLEM_REASONS, dn, parsePemCertificates } from "./certificate-chain.ts";
import { signingAlgorithmFor } from "./signing.ts";

/**
 * The files a cell mounts for Roles Anywhere. cert-manager's Certificate secret fits directly:
 * `tls.crt` (leaf then intermediates) as `certificateFile`, `tls.key` as `privateKeyFile`.
 */
export interface CellCertificateFiles {
  /** PEM: the cell's certificate first, optionally followed by its intermediates. */
  certificateFile: string;
  /** PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1), unencrypted: the volume protects it. */
  privateKeyFile: string;
  /** Optional PEM bundle of more intermediates. */
  chainFile?: string;
  /** PEM bundle of the CA certificate(s) configured as the Roles Anywhere trust anchor. */
  trustAnchorFile: string;
}

/** What the files held at one read, parsed, with the key checked against the certificate. */
export interface CellCertificate {
  readonly leaf: X509Certificate;
  /** The certificate file's certificates after the leaf, then the chain file's. */
  readonly intermediates: readonly X509Certificate[];
  readonly trustAnchors: readonly X509Certificate[];
  readonly privateKey: Sensitive<KeyObject>;
}

/**
 * Reads the cell's certificate, key, chain and trust anchor files, and reads each again only when it
 * changed (device, inode, size, mtime or ctime, as {@link tokenFromFile}), so a renewed certificate is
 * used from the next credential refresh on. Parsed certificates and keys are cached per file content.
 *
 * A key that does not belong to the certificate is usually a renewal caught half-way (the two files
 * are read one after the other): the files are read once more before that is reported, as the
 * permanent `key_mismatch`. Errors name files and certificate DNs, never key material.
 */
export function cellCertificateReader(
  files: CellCertificateFiles,
  options: { logger?: Logger } = {},
): () => Promise<CellCertificate> {
  const logger = options.logger ? { logger: options.logger } : {};
  const certificate = parsed(tokenFromFile(files.certificateFile, { what: "Roles Anywhere certificate file", ...logger }), (pem) => {
    const [leaf, ...rest] = parsePemCertificates(pem, `Roles Anywhere certificate file ${files.certificateFile}`);
    if (!leaf) throw unreadable(`Roles Anywhere certificate file ${files.certificateFile} holds no PEM certificate`);
    return { leaf, rest };
  });
  const chain = files.chainFile
    ? parsed(tokenFromFile(files.chainFile, { what: "Roles Anywhere chain file", ...logger }), (pem) =>
        parsePemCertificates(pem, `Roles Anywhere chain file ${files.chainFile}`),
      )
    : async () => [];
  const anchors = parsed(tokenFromFile(files.trustAnchorFile, { what: "Roles Anywhere trust anchor file", ...logger }), (pem) => {
    const list = parsePemCertificates(pem, `Roles Anywhere trust anchor file ${files.trustAnchorFile}`);
    if (list.length === 0) throw unreadable(`Roles Anywhere trust anchor file ${files.trustAnchorFile} holds no PEM certificate`);
    return list;
  });
  const key = parsed(tokenFromFile(files.privateKeyFile, { what: "Roles Anywhere private key file", ...logger }), (pem) => {
    // Told by the PEM armour (PKCS#8 or legacy OpenSSL encryption): Node's error codes for a missing
    // passphrase differ by key format.
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) {
      throw unreadable(`Roles Anywhere private key file ${files.privateKeyFile} is encrypted; mount an unencrypted key on a protected volume`);
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(pem);
    } catch (error) {
      // The cause stays attached (never serialised); its text is OpenSSL's, without key bytes.
      throw unreadable(`Roles Anywhere private key file ${files.privateKeyFile} holds no readable private key`, error);
    }
    signingAlgorithmFor(privateKey);
    return new Sensitive(privateKey);
  });

  async function readOnce(): Promise<CellCertificate> {
    const [{ leaf, rest }, extra, trustAnchors, privateKey] = await Promise.all([certificate(), chain(), anchors(), key()]);
    return { leaf, intermediates: [...rest, ...extra], trustAnchors, privateKey };
  }

  return async () => {
    const first = await readOnce();
    if (first.leaf.checkPrivateKey(first.privateKey.reveal())) return first;
    const second = await readOnce();
    if (second.leaf.checkPrivateKey(second.privateKey.reveal())) return second;
    throw new CredmeshError(
      CERTIFICATE_PROBLEM_REASONS.key_mismatch,
      `Roles Anywhere certificate check failed: the private key in ${files.privateKeyFile} does not belong to certificate ` +
        `"${dn(second.leaf.subject)}" in ${files.certificateFile}`,
      { code: "key_mismatch" },
    );
  };
}

/** Parses a file's content once per content: the reader returns the same Sensitive while unchanged. */
function parsed<T>(file: TokenFile, parse: (text: string) => T): () => Promise<T> {
  let last: { source: Sensitive<string>; value: T } | undefined;
  return async () => {
    const source = await file();
    if (last?.source !== source) last = { source, value: parse(source.reveal()) };
    return last.value;
  };
}

function unreadable(message: string, cause?: unknown): CredmeshError {
  return new CredmeshError(CERTIFICATE_PROBLEM_REASONS.unreadable, message, { code: "unreadable", ...(cause === undefined ? {} : { cause }) });
}
