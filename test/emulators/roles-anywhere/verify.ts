/**
 * The verifying side of IAM Roles Anywhere's request authentication, written from AWS's documentation
 * and deliberately sharing no code with the signer in shared/identity: if both sides derived the
 * string to sign from one function, a bug there would sign and verify the same wrong string.
 *
 * From the received request alone it rebuilds SigV4's canonical request (method, canonical URI,
 * canonical query, the headers named in SignedHeaders, the payload hash) and the string to sign
 * (algorithm, X-Amz-Date, scope, hash of the canonical request), then verifies the signature with
 * the public key of the certificate in X-Amz-X509.
 */
import { X509Certificate, constants, createHash, verify } from "node:crypto";

/** What the HTTP server received, as it received it. */
export interface ReceivedRequest {
  readonly method: string;
  /** The request target: path and query, as sent. */
  readonly target: string;
  /** Lowercase names; every occurrence of a repeated header, in order. */
  readonly headers: Readonly<Record<string, readonly string[] | undefined>>;
  readonly body: Buffer;
}

export interface VerifiedRequest {
  readonly algorithm: string;
  readonly leaf: X509Certificate;
  /** X-Amz-X509-Chain, in the order sent. */
  readonly chain: readonly X509Certificate[];
  /** The serial named in the Credential, in decimal. */
  readonly serial: string;
  readonly signedHeaders: readonly string[];
  readonly requestTime: number;
}

/** A request Roles Anywhere would refuse with 403 AccessDeniedException; the text is AWS-like. */
export class AuthenticationFailure extends Error {
  override readonly name = "AuthenticationFailure";
}

const KEY_TYPE_OF_ALGORITHM: Readonly<Record<string, string>> = {
  "AWS4-X509-RSA-SHA256": "rsa",
  "AWS4-X509-ECDSA-SHA256": "ec",
};

export function verifyRequestSignature(
  request: ReceivedRequest,
  expected: { region: string; now: number; maxSkewMs: number },
): VerifiedRequest {
  const authorization = single(request, "authorization");
  if (authorization === undefined) throw new AuthenticationFailure("Missing Authentication Token");
  const space = authorization.indexOf(" ");
  const algorithm = space < 0 ? authorization : authorization.slice(0, space);
  const keyType = KEY_TYPE_OF_ALGORITHM[algorithm];
  if (keyType === undefined) throw new AuthenticationFailure(`Unsupported signing algorithm ${algorithm}`);
  const fields = new Map<string, string>();
  for (const part of authorization.slice(space + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get("Credential");
  const signedHeaderList = fields.get("SignedHeaders");
  const signatureHex = fields.get("Signature");
  if (!credential || !signedHeaderList || !signatureHex || !/^[0-9a-f]+$/.test(signatureHex)) {
    throw new AuthenticationFailure("Authorization header requires Credential, SignedHeaders and Signature");
  }

  const [serial, scopeDate, scopeRegion, scopeService, terminator, ...extra] = credential.split("/");
  if (extra.length > 0 || terminator !== "aws4_request" || !serial || !/^\d+$/.test(serial)) {
    throw new AuthenticationFailure("Credential should be scoped to a valid certificate serial and aws4_request");
  }
  if (scopeService !== "rolesanywhere") throw new AuthenticationFailure(`Credential should be scoped to correct service: 'rolesanywhere'`);
  if (scopeRegion !== expected.region) throw new AuthenticationFailure(`Credential should be scoped to a valid region`);

  const amzDate = single(request, "x-amz-date");
  const when = amzDate === undefined ? undefined : /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!amzDate || !when) throw new AuthenticationFailure("X-Amz-Date is missing or malformed");
  const requestTime = Date.UTC(+when[1]!, +when[2]! - 1, +when[3]!, +when[4]!, +when[5]!, +when[6]!);
  if (scopeDate !== amzDate.slice(0, 8)) throw new AuthenticationFailure("Credential should be scoped to the date of X-Amz-Date");
  if (Math.abs(expected.now - requestTime) > expected.maxSkewMs) {
    throw new AuthenticationFailure(
      expected.now > requestTime ? "Signature expired: the request time is too far in the past" : "Signature not yet current",
    );
  }

  const signedHeaders = signedHeaderList.split(";");
  const sorted = [...new Set(signedHeaders.map((h) => h.toLowerCase()))].sort();
  if (sorted.join(";") !== signedHeaderList) throw new AuthenticationFailure("SignedHeaders must be lowercase, unique and sorted");
  for (const required of ["host", "x-amz-date", "x-amz-x509"]) {
    if (!signedHeaders.includes(required)) throw new AuthenticationFailure(`'${required}' must be a signed header`);
  }
  if (request.headers["x-amz-x509-chain"] !== undefined && !signedHeaders.includes("x-amz-x509-chain")) {
    throw new AuthenticationFailure("'x-amz-x509-chain' must be a signed header when present");
  }

  let canonicalHeaders = "";
  for (const name of signedHeaders) {
    const values = request.headers[name];
    if (values === undefined) throw new AuthenticationFailure(`Signed header '${name}' is missing`);
    canonicalHeaders += `${name}:${values.map((v) => v.replace(/^\s+|\s+$/g, "").replace(/\s+/g, " ")).join(",")}\n`;
  }
  const queryAt = request.target.indexOf("?");
  const path = queryAt < 0 ? request.target : request.target.slice(0, queryAt);
  const query = queryAt < 0 ? "" : request.target.slice(queryAt + 1);
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalPath(path),
    canonicalQuery(query),
    canonicalHeaders,
    signedHeaderList,
    createHash("sha256").update(request.body).digest("hex"),
  ].join("\n");
  const stringToSign = `${algorithm}\n${amzDate}\n${scopeDate}/${scopeRegion}/${scopeService}/aws4_request\n${createHash("sha256")
    .update(canonicalRequest, "utf8")
    .digest("hex")}`;

  let leaf: X509Certificate;
  let chain: X509Certificate[];
  try {
    leaf = new X509Certificate(Buffer.from(single(request, "x-amz-x509") ?? "", "base64"));
    const chainHeader = request.headers["x-amz-x509-chain"]?.join(",");
    chain = chainHeader === undefined || chainHeader === "" ? [] : chainHeader.split(",").map((b64) => new X509Certificate(Buffer.from(b64.trim(), "base64")));
  } catch {
    throw new AuthenticationFailure("X-Amz-X509 / X-Amz-X509-Chain must hold base64 DER certificates");
  }
  if (BigInt(`0x${leaf.serialNumber}`).toString() !== serial) {
    throw new AuthenticationFailure("Credential serial does not match the signing certificate");
  }
  if (leaf.publicKey.asymmetricKeyType !== keyType) {
    throw new AuthenticationFailure(`Signing algorithm ${algorithm} does not match the certificate's key`);
  }
  const good = verify(
    "sha256",
    Buffer.from(stringToSign, "utf8"),
    keyType === "rsa" ? { key: leaf.publicKey, padding: constants.RSA_PKCS1_PADDING } : { key: leaf.publicKey, dsaEncoding: "der" },
    Buffer.from(signatureHex, "hex"),
  );
  if (!good) throw new AuthenticationFailure("The request signature we calculated does not match the signature you provided");
  return { algorithm, leaf, chain, serial, signedHeaders, requestTime };
}

function single(request: ReceivedRequest, name: string): string | undefined {
  const values = request.headers[name];
  return values === undefined ? undefined : values.join(",");
}

/** RFC 3986 unreserved characters stay; everything else is %XX (uppercase), as SigV4 requires. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** SigV4 for services other than S3: the (already encoded once) path, each segment encoded again. */
function canonicalPath(path: string): string {
  if (path === "") return "/";
  return path.split("/").map(uriEncode).join("/");
}

function canonicalQuery(query: string): string {
  if (query === "") return "";
  return query
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
      const value = eq < 0 ? "" : decodeURIComponent(pair.slice(eq + 1));
      return [uriEncode(name), uriEncode(value)] as const;
    })
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : x > y ? 1 : 0) : a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
}
