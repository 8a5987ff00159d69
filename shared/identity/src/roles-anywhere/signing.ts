import { type KeyObject, type X509Certificate, constants, createHash, createSign } from "node:crypto";
import { CredmeshError } from "@credmesh/errors";
import type { Sensitive } from "@credmesh/logging";

/**
 * IAM Roles Anywhere request signing: SigV4's canonical request and string to sign, signed with the
 * private key of an X.509 certificate instead of an HMAC key chain.
 *
 * What AWS documents (Roles Anywhere user guide, "Authentication process" and "Signing process",
 * which declare SigV4's own documentation authoritative for everything they do not change):
 *  - CanonicalRequest = Method '\n' CanonicalURI '\n' CanonicalQueryString '\n' CanonicalHeaders '\n'
 *    SignedHeaders '\n' lowercase-hex(SHA-256(payload)). CanonicalHeaders is one `name:value\n` per
 *    signed header, names lowercased and sorted, values trimmed with inner runs of spaces collapsed;
 *    SignedHeaders is the same names joined by ';'. (SigV4)
 *  - StringToSign = Algorithm '\n' RequestDateTime '\n' CredentialScope '\n'
 *    lowercase-hex(SHA-256(CanonicalRequest)); RequestDateTime is X-Amz-Date (`YYYYMMDD'T'HHMMSS'Z'`);
 *    CredentialScope is `YYYYMMDD/<region>/rolesanywhere/aws4_request`. (SigV4, service name from RA)
 *  - Algorithm is AWS4-X509-RSA-SHA256 or AWS4-X509-ECDSA-SHA256, after the certificate's key type;
 *    the signature is the private key's SHA-256 signature of StringToSign (RSASSA-PKCS1-v1_5, or ECDSA
 *    with the DER-encoded (r, s) sequence), hex-encoded. (RA)
 *  - X-Amz-X509 carries the signing certificate as base64 DER; X-Amz-X509-Chain, when present, the
 *    intermediates as comma-separated base64 DER; both MUST be among the signed headers. (RA)
 *  - Authorization = `<Algorithm> Credential=<serial>/<CredentialScope>, SignedHeaders=<...>,
 *    Signature=<hex>`, where the credential is the signing certificate's serial number. (RA) The
 *    serial is written in decimal, as AWS's own credential helper (rolesanywhere-credential-helper)
 *    writes it.
 *
 * Our choices, within what AWS allows: the request is always `POST /sessions` without a query, and we
 * sign exactly Content-Type, Host, X-Amz-Date, X-Amz-X509 and (when sent) X-Amz-X509-Chain.
 *
 * @see ../../../../shared/SPEC.md section 3 (Azure → AWS by IAM Roles Anywhere)
 */

/** The two signature versions Roles Anywhere accepts from an RSA or an EC key. */
export const SIGNING_ALGORITHM = {
  rsa: "AWS4-X509-RSA-SHA256",
  ec: "AWS4-X509-ECDSA-SHA256",
} as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHM)[keyof typeof SIGNING_ALGORITHM];

/** The signing name of the service, the third part of the credential scope. */
export const ROLES_ANYWHERE_SERVICE = "rolesanywhere";

/** The certificate whose key signs, the intermediates sent with it, and the key. */
export interface SigningMaterial {
  readonly certificate: X509Certificate;
  /** Sent in X-Amz-X509-Chain, in this order; empty when the leaf is issued by the trust anchor. */
  readonly intermediates: readonly X509Certificate[];
  readonly privateKey: Sensitive<KeyObject>;
}

export interface RequestToSign {
  readonly method: "POST";
  readonly url: URL;
  /** The exact body that will be sent (UTF-8). */
  readonly body: string;
  readonly region: string;
  readonly date: Date;
}

/** Every header the request must carry (Host included: it is signed, and must match what is sent). */
export interface SignedRequest {
  readonly headers: Readonly<Record<string, string>>;
  readonly algorithm: SigningAlgorithm;
}

/** The signature version for a private key, or a `configuration` error for any other key type. */
export function signingAlgorithmFor(key: KeyObject): SigningAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === "rsa" || type === "ec") return SIGNING_ALGORITHM[type];
  throw new CredmeshError(
    "configuration",
    `Roles Anywhere signs with RSA or EC keys only; the private key is ${type ?? "not asymmetric"}`,
    { code: "unsupported_key" },
  );
}

/** Signs a Roles Anywhere request as AWS documents it (see the module comment). */
export function signRolesAnywhereRequest(request: RequestToSign, material: SigningMaterial): SignedRequest {
  const key = material.privateKey.reveal();
  const algorithm = signingAlgorithmFor(key);
  const amzDate = formatAmzDate(request.date);
  const scope = `${amzDate.slice(0, 8)}/${request.region}/${ROLES_ANYWHERE_SERVICE}/aws4_request`;

  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    // fetch sends the URL's host (with the port when it is not the scheme's default) as Host.
    Host: request.url.host,
    "X-Amz-Date": amzDate,
    "X-Amz-X509": material.certificate.raw.toString("base64"),
  };
  if (material.intermediates.length > 0) {
    headers["X-Amz-X509-Chain"] = material.intermediates.map((c) => c.raw.toString("base64")).join(",");
  }

  const signed = Object.entries(headers)
    .map(([name, value]) => [name.toLowerCase(), canonicalValue(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const signedHeaders = signed.map(([name]) => name).join(";");
  const canonicalRequest = [
    request.method,
    canonicalUri(request.url),
    canonicalQuery(request.url),
    signed.map(([name, value]) => `${name}:${value}\n`).join(""),
    signedHeaders,
    sha256Hex(request.body),
  ].join("\n");
  const stringToSign = [algorithm, amzDate, scope, sha256Hex(canonicalRequest)].join("\n");

  const signer = createSign("sha256");
  signer.update(stringToSign, "utf8");
  const signature = signer
    .sign(algorithm === SIGNING_ALGORITHM.rsa ? { key, padding: constants.RSA_PKCS1_PADDING } : { key, dsaEncoding: "der" })
    .toString("hex");

  headers["Authorization"] =
    `${algorithm} Credential=${serialDecimal(material.certificate)}/${scope}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { headers, algorithm };
}

/** The certificate's serial number in decimal (X509Certificate gives it in hex). */
export function serialDecimal(certificate: X509Certificate): string {
  return BigInt(`0x${certificate.serialNumber}`).toString(10);
}

/** `YYYYMMDD'T'HHMMSS'Z'`, SigV4's request date-time. */
export function formatAmzDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
}

function canonicalValue(value: string): string {
  return value.trim().replace(/ {2,}/g, " ");
}

// SigV4 URI-encodes each path segment (twice, for services other than S3). The only path this module
// signs is /sessions, possibly under an endpoint's base path, so a path that would need encoding is
// refused rather than encoded by a rule no test covers.
function canonicalUri(url: URL): string {
  const path = url.pathname === "" ? "/" : url.pathname;
  if (!/^[A-Za-z0-9\-._~/]*$/.test(path)) {
    throw new CredmeshError("configuration", `Roles Anywhere endpoint path ${JSON.stringify(path)} needs URI encoding, which is not supported`);
  }
  return path;
}

function canonicalQuery(url: URL): string {
  if (url.search !== "") {
    throw new CredmeshError("configuration", "Roles Anywhere endpoint must not carry a query string");
  }
  return "";
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
