/**
 * A stand-in for AWS STS GetWebIdentityToken (IAM outbound identity federation), which moto 5.2.5
 * does not implement (it answers the action with an unrelated S3 document). It speaks the Query
 * protocol as STS does, verifies the request's SigV4 signature — with its own implementation of
 * the documented algorithm, not the SDK's — against the temporary credentials STS handed out (the
 * recording proxy saw them), and mints RS256 JWTs shaped like AWS's: `iss` the account's issuer,
 * `sub` the caller's role ARN, `aud` as requested, `iat`/`exp`, `jti`, and the AWS claims under
 * `https://sts.amazonaws.com/`. It publishes `/.well-known/openid-configuration` and
 * `/.well-known/jwks.json` under its issuer, as AWS does, so an Entra federated identity
 * credential (the Key Vault emulator's) can trust it.
 *
 * Deliberate differences: the issuer is `http://127.0.0.1:<port>` (AWS: an https URL under
 * tokens.sts.global.api.aws); the account must have "enabled" federation (`enabled`); only
 * RS256 is minted.
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import type { JWK } from "jose";

/** What the stand-in needs to know about a caller's credentials. */
export interface CallerCredentials {
  secretAccessKey: string;
  sessionToken?: string;
  /** The IAM role the session belongs to: the token's `sub`. */
  roleArn: string;
}

export interface StsOutboundFederation {
  /** `iss` of minted tokens. */
  readonly issuer: string;
  /** `<issuer>/.well-known/jwks.json`. */
  readonly jwksUri: string;
  readonly endpoint: string;
  /** Tokens minted so far (their claims), oldest first. */
  readonly minted: ReadonlyArray<Record<string, unknown>>;
  /** Requests refused, with the STS error code. */
  readonly refused: ReadonlyArray<{ code: string; accessKeyId: string | undefined }>;
  /** Shifts iat/nbf/exp of tokens minted from now on by this many seconds (an issuer with a skewed clock). */
  offsetSeconds: number;
  /** False answers OutboundWebIdentityFederationDisabledException, as for an account that never enabled it. */
  enabled: boolean;
  stop(): Promise<void>;
}

const ALGORITHM = "AWS4-HMAC-SHA256";
const CLOCK_TOLERANCE_MS = 5 * 60_000;

/**
 * Starts the stand-in on 127.0.0.1. `credentialsOf` resolves an access key id to its secret and
 * role (undefined: unknown key → InvalidClientTokenId).
 */
export async function startStsOutboundFederation(options: {
  account: string;
  region: string;
  credentialsOf: (accessKeyId: string) => CallerCredentials | undefined;
}): Promise<StsOutboundFederation> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = createHash("sha256").update(JSON.stringify(jwk)).digest("base64url").slice(0, 32);
  const publicJwk: JWK = { ...jwk, kid, use: "sig", alg: "RS256" };
  const minted: Record<string, unknown>[] = [];
  const refused: { code: string; accessKeyId: string | undefined }[] = [];
  let issuer = "";

  const state = { offsetSeconds: 0, enabled: true };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      void handle(req, res, Buffer.concat(chunks)).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    if (req.method === "GET" && path === "/.well-known/openid-configuration") {
      return json(res, { issuer, jwks_uri: `${issuer}/.well-known/jwks.json`, response_types_supported: ["id_token"], subject_types_supported: ["public"], id_token_signing_alg_values_supported: ["RS256"] });
    }
    if (req.method === "GET" && path === "/.well-known/jwks.json") return json(res, { keys: [publicJwk] });
    if (req.method !== "POST") return json(res, { error: "not found" }, 404);

    const params = new URLSearchParams(body.toString("utf8"));
    if (params.get("Action") !== "GetWebIdentityToken") return error(res, 400, "InvalidAction", "only GetWebIdentityToken is served here");
    const caller = verifySignature(req, body, options.credentialsOf);
    if ("code" in caller) {
      refused.push({ code: caller.code, accessKeyId: caller.accessKeyId });
      return error(res, 403, caller.code, caller.message);
    }
    if (!state.enabled) {
      refused.push({ code: "OutboundWebIdentityFederationDisabledException", accessKeyId: caller.accessKeyId });
      return error(res, 403, "OutboundWebIdentityFederationDisabledException", "Outbound web identity federation is disabled for this account.");
    }
    const audiences = [...params.entries()].filter(([key]) => /^Audience\.member\.\d+$/.test(key)).map(([, value]) => value);
    const duration = Number(params.get("DurationSeconds") ?? "300");
    const algorithm = params.get("SigningAlgorithm");
    if (audiences.length === 0 || !Number.isInteger(duration) || duration < 60 || duration > 3600 || algorithm !== "RS256") {
      refused.push({ code: "ValidationError", accessKeyId: caller.accessKeyId });
      return error(res, 400, "ValidationError", "1 validation error detected");
    }
    const iat = Math.floor(Date.now() / 1000) + state.offsetSeconds;
    const claims = {
      "https://sts.amazonaws.com/": { aws_account: options.account, source_region: options.region },
    };
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid })
      .setIssuer(issuer)
      .setSubject(caller.roleArn)
      .setAudience(audiences.length === 1 ? (audiences[0] ?? "") : audiences)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + duration)
      .setJti(randomUUID())
      .sign(privateKey);
    minted.push({ iss: issuer, sub: caller.roleArn, aud: audiences, iat, exp: iat + duration, accessKeyId: caller.accessKeyId });
    const expiration = new Date((iat + duration) * 1000).toISOString();
    res.writeHead(200, { "content-type": "text/xml", "x-amzn-requestid": randomUUID() });
    res.end(
      `<GetWebIdentityTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetWebIdentityTokenResult>` +
        `<WebIdentityToken>${token}</WebIdentityToken><Expiration>${expiration}</Expiration>` +
        `</GetWebIdentityTokenResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></GetWebIdentityTokenResponse>`,
    );
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUri: `${issuer}/.well-known/jwks.json`,
    endpoint: issuer,
    minted,
    refused,
    get offsetSeconds() {
      return state.offsetSeconds;
    },
    set offsetSeconds(value: number) {
      state.offsetSeconds = value;
    },
    get enabled() {
      return state.enabled;
    },
    set enabled(value: boolean) {
      state.enabled = value;
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Verified = { accessKeyId: string; roleArn: string } | { code: string; message: string; accessKeyId: string | undefined };

/**
 * SigV4 verification as AWS documents it (create-signed-request): the canonical request from the
 * signed headers, the string to sign over the credential scope, the signing key derived from the
 * secret, and a constant-time comparison. The host the client signed is in X-Forwarded-Host when
 * the request came through the recording proxy.
 */
function verifySignature(req: IncomingMessage, body: Buffer, credentialsOf: (id: string) => CallerCredentials | undefined): Verified {
  const authorization = req.headers.authorization ?? "";
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) return { code: "MissingAuthenticationToken", message: "Request is missing Authentication Token", accessKeyId: undefined };
  const [, accessKeyId = "", date = "", region = "", service = "", signedHeaders = "", signature = ""] = match;
  const caller = credentialsOf(accessKeyId);
  if (!caller) return { code: "InvalidClientTokenId", message: "The security token included in the request is invalid.", accessKeyId };
  if (service !== "sts") return { code: "SignatureDoesNotMatch", message: "Credential should be scoped to correct service: 'sts'.", accessKeyId };
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  const signedAt = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"));
  if (!amzDate.startsWith(date) || !Number.isFinite(signedAt) || Math.abs(Date.now() - signedAt) > CLOCK_TOLERANCE_MS) {
    return { code: "SignatureDoesNotMatch", message: "Signature expired or not yet valid.", accessKeyId };
  }
  if (caller.sessionToken !== undefined && req.headers["x-amz-security-token"] !== caller.sessionToken) {
    return { code: "InvalidClientTokenId", message: "The security token included in the request is invalid.", accessKeyId };
  }
  const headerValue = (name: string): string => {
    const raw = name === "host" ? (req.headers["x-forwarded-host"] ?? req.headers.host) : req.headers[name];
    return (Array.isArray(raw) ? raw.join(",") : (raw ?? "")).trim().replace(/\s+/g, " ");
  };
  const names = signedHeaders.split(";");
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const query = [...url.searchParams.entries()]
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalRequest = [
    req.method ?? "POST",
    url.pathname.split("/").map(rfc3986).join("/") || "/",
    query,
    names.map((name) => `${name}:${headerValue(name)}\n`).join(""),
    signedHeaders,
    sha256(body),
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256(canonicalRequest)].join("\n");
  let key = hmac(`AWS4${caller.secretAccessKey}`, date);
  for (const part of [region, service, "aws4_request"]) key = hmac(key, part);
  const expected = createHmac("sha256", key).update(stringToSign).digest();
  const given = Buffer.from(signature, "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { code: "SignatureDoesNotMatch", message: "The request signature we calculated does not match the signature you provided.", accessKeyId };
  }
  return { accessKeyId, roleArn: caller.roleArn };
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function json(res: ServerResponse, body: unknown, status = 200): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  res.end(payload);
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { "content-type": "text/xml" });
  res.end(
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code>` +
      `<Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}
