/**
 * A local IAM Roles Anywhere CreateSession endpoint (no emulator of it exists): an HTTP server on
 * 127.0.0.1 that authenticates requests as Roles Anywhere documents it — signature over the
 * rebuilt string to sign, verified with the key of the certificate in X-Amz-X509; the Credential's
 * serial is that certificate's; X-Amz-Date within 5 minutes; the certificate chains to the trust
 * anchor — then authorises against one trust anchor, one profile and its roles, and answers in
 * CreateSession's format (201 `credentialSet`), or with AWS-shaped errors (`x-amzn-ErrorType`, JSON
 * `{"message"}`).
 *
 * @see ../../../shared/SPEC.md section 3 and README.md beside this file
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyChain } from "./chain.ts";
import { AuthenticationFailure, type ReceivedRequest, verifyRequestSignature } from "./verify.ts";

/** A role the profile may hand out, with the trust policy's condition on the certificate's CN. */
export interface EmulatedRole {
  readonly arn: string;
  /**
   * `aws:PrincipalTag/x509Subject/CN` must be one of these (StringEquals), as the role's trust
   * policy would require; any CN when absent.
   */
  readonly commonNames?: readonly string[];
}

export interface RolesAnywhereEmulatorOptions {
  /** PEM of the trust anchor's CA certificate(s): the `x509CertificateData` of the trust anchor. */
  readonly trustAnchorPem: string;
  readonly region?: string;
  readonly accountId?: string;
  /** The profile's roles; default one role, `arn:aws:iam::<account>:role/credmesh-replicator-aws`. */
  readonly roles?: readonly EmulatedRole[];
  /** The profile's durationSeconds: the longest session it grants. Default 3600. */
  readonly profileDurationSeconds?: number;
  /** The profile's acceptRoleSessionName. Default true. */
  readonly acceptRoleSessionName?: boolean;
  /** The service's clock (ms); default Date.now. Tests share one with the client to move time. */
  readonly now?: () => number;
  /** 0 (the default) picks a free port on 127.0.0.1. */
  readonly port?: number;
}

/** One request received at /sessions (or anywhere), and what was answered. For tests. */
export interface RecordedRequest {
  readonly at: number;
  readonly method: string;
  readonly target: string;
  readonly headers: Readonly<Record<string, readonly string[] | undefined>>;
  readonly body: string;
  readonly status: number;
  readonly errorType?: string;
  readonly message?: string;
  /** The signing certificate's serial (decimal), when the signature verified. */
  readonly serial?: string;
  readonly algorithm?: string;
}

interface IssuedSession {
  readonly accessKeyId: string;
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly serial: string;
  readonly commonName: string | undefined;
  readonly expiration: string;
}

/** An error answer queued by {@link RolesAnywhereEmulator.failNext}, served before authentication. */
interface Fault {
  readonly status: number;
  readonly errorType: string;
  readonly message?: string;
  readonly retryAfterSeconds?: number;
}

export interface RolesAnywhereEmulator {
  /** `http://127.0.0.1:<port>`: the `endpoint` setting of the Roles Anywhere credential provider. */
  readonly endpoint: string;
  readonly region: string;
  readonly trustAnchorArn: string;
  readonly profileArn: string;
  /** The first role of the profile. */
  readonly roleArn: string;
  /** Every request received so far, oldest first. */
  requests(): readonly RecordedRequest[];
  /** The sessions handed out so far, oldest first. */
  sessions(): readonly IssuedSession[];
  /** Answers the next request(s) with these errors instead of processing them. */
  failNext(...faults: readonly Fault[]): void;
  /** Forgets recorded requests and sessions (not the configuration). */
  reset(): void;
  stop(): Promise<void>;
}

const MAX_SKEW_MS = 5 * 60_000;
const BODY_LIMIT_BYTES = 64 * 1024;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

/** An AWS-shaped error answer: status, `x-amzn-ErrorType`, `{"message"}`. */
class ServiceError extends Error {
  readonly status: number;
  readonly errorType: string;
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, errorType: string, message: string, retryAfterSeconds?: number) {
    super(message);
    this.status = status;
    this.errorType = errorType;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export async function startRolesAnywhereEmulator(options: RolesAnywhereEmulatorOptions): Promise<RolesAnywhereEmulator> {
  const region = options.region ?? "us-east-1";
  const accountId = options.accountId ?? "123456789012";
  const roles = options.roles ?? [{ arn: `arn:aws:iam::${accountId}:role/credmesh-replicator-aws` }];
  const firstRole = roles[0];
  if (!firstRole) throw new Error("the emulated profile needs at least one role");
  const profileDurationSeconds = options.profileDurationSeconds ?? 3600;
  const acceptRoleSessionName = options.acceptRoleSessionName ?? true;
  const now = options.now ?? Date.now;
  const trustAnchorArn = `arn:aws:rolesanywhere:${region}:${accountId}:trust-anchor/${randomUUID()}`;
  const profileArn = `arn:aws:rolesanywhere:${region}:${accountId}:profile/${randomUUID()}`;

  const dir = await mkdtemp(join(tmpdir(), "credmesh-rolesanywhere-"));
  const trustAnchorPath = join(dir, "trust-anchor.pem");
  await writeFile(trustAnchorPath, options.trustAnchorPem);

  const recorded: RecordedRequest[] = [];
  const issued: IssuedSession[] = [];
  const faults: Fault[] = [];

  async function createSession(received: ReceivedRequest, at: number): Promise<{ body: unknown; serial: string; algorithm: string }> {
    const fault = faults.shift();
    if (fault) {
      throw new ServiceError(fault.status, fault.errorType, fault.message ?? fault.errorType, fault.retryAfterSeconds);
    }
    let verified;
    try {
      verified = verifyRequestSignature(received, { region, now: at, maxSkewMs: MAX_SKEW_MS });
    } catch (error) {
      if (error instanceof AuthenticationFailure) throw new ServiceError(403, "AccessDeniedException", error.message);
      throw error;
    }
    const chain = await verifyChain(dir, trustAnchorPath, verified.leaf, verified.chain, at);
    if (!chain.ok) throw new ServiceError(403, "AccessDeniedException", `Untrusted signing certificate: ${chain.reason}`);

    let input: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(received.body.toString("utf8"));
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
      input = parsed as Record<string, unknown>;
    } catch {
      throw new ServiceError(400, "ValidationException", "Request body must be a JSON object");
    }
    for (const field of ["profileArn", "roleArn", "trustAnchorArn"]) {
      if (typeof input[field] !== "string") throw new ServiceError(400, "ValidationException", `${field} is required`);
    }
    if (input["trustAnchorArn"] !== trustAnchorArn) throw new ServiceError(404, "ResourceNotFoundException", "Trust anchor not found");
    if (input["profileArn"] !== profileArn) throw new ServiceError(404, "ResourceNotFoundException", "Profile not found");
    const role = roles.find((r) => r.arn === input["roleArn"]);
    if (!role) throw new ServiceError(403, "AccessDeniedException", "Role is not associated with the profile");
    const duration = input["durationSeconds"] ?? 3600;
    if (typeof duration !== "number" || !Number.isInteger(duration) || duration < 900 || duration > 43_200) {
      throw new ServiceError(400, "ValidationException", "durationSeconds must be between 900 and 43200");
    }
    if (duration > profileDurationSeconds) {
      throw new ServiceError(400, "ValidationException", "durationSeconds exceeds the profile's durationSeconds");
    }
    const sessionName = input["roleSessionName"];
    if (sessionName !== undefined) {
      if (!acceptRoleSessionName) throw new ServiceError(400, "ValidationException", "The profile does not accept a role session name");
      if (typeof sessionName !== "string" || !SESSION_NAME.test(sessionName)) {
        throw new ServiceError(400, "ValidationException", "roleSessionName is invalid");
      }
    }
    const cn = verified.leaf.toLegacyObject().subject?.CN;
    const commonName = typeof cn === "string" ? cn : undefined;
    if (role.commonNames && (commonName === undefined || !role.commonNames.includes(commonName))) {
      throw new ServiceError(403, "AccessDeniedException", "Not authorized to perform sts:AssumeRole");
    }

    // The session never outlives the certificate that opened it.
    const expiresAt = Math.min(at + duration * 1000, Date.parse(verified.leaf.validTo));
    const accessKeyId = `ASIA${randomBytes(8).toString("hex").toUpperCase()}`;
    const roleSessionName = typeof sessionName === "string" ? sessionName : verified.leaf.serialNumber.toLowerCase();
    const roleName = role.arn.slice(role.arn.lastIndexOf("/") + 1);
    const expiration = new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z");
    issued.push({ accessKeyId, roleArn: role.arn, roleSessionName, serial: verified.serial, commonName, expiration });
    return {
      serial: verified.serial,
      algorithm: verified.algorithm,
      body: {
        credentialSet: [
          {
            assumedRoleUser: {
              arn: `arn:aws:sts::${accountId}:assumed-role/${roleName}/${roleSessionName}`,
              assumedRoleId: `AROA${randomBytes(8).toString("hex").toUpperCase()}:${roleSessionName}`,
            },
            credentials: {
              accessKeyId,
              expiration,
              secretAccessKey: randomBytes(30).toString("base64"),
              sessionToken: randomBytes(96).toString("base64"),
            },
            packedPolicySize: 0,
            roleArn: role.arn,
            sourceIdentity: commonName === undefined ? verified.leaf.subject.split("\n").join(",") : `CN=${commonName}`,
          },
        ],
        subjectArn: `arn:aws:rolesanywhere:${region}:${accountId}:subject/${randomUUID()}`,
      },
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = now();
    const body = await readBody(req);
    const received: ReceivedRequest = {
      method: req.method ?? "GET",
      target: req.url ?? "/",
      headers: req.headersDistinct,
      body: body ?? Buffer.alloc(0),
    };
    const record = (status: number, extra: Partial<RecordedRequest>): void => {
      recorded.push({
        at,
        method: received.method,
        target: received.target,
        headers: received.headers,
        body: received.body.toString("utf8"),
        status,
        ...extra,
      });
    };
    try {
      if (body === undefined) throw new ServiceError(413, "ValidationException", "Request body is too large");
      const path = received.target.split("?")[0];
      if (path !== "/sessions") throw new ServiceError(404, "UnknownOperationException", "Unknown operation");
      if (received.method !== "POST") throw new ServiceError(405, "UnknownOperationException", "Unknown operation");
      const result = await createSession(received, at);
      record(201, { serial: result.serial, algorithm: result.algorithm });
      send(res, 201, result.body, {});
    } catch (error) {
      const failure = error instanceof ServiceError ? error : new ServiceError(500, "InternalServerException", "Internal failure");
      record(failure.status, { errorType: failure.errorType, message: failure.message });
      send(res, failure.status, { message: failure.message }, {
        "x-amzn-ErrorType": failure.errorType,
        ...(failure.retryAfterSeconds === undefined ? {} : { "Retry-After": String(failure.retryAfterSeconds) }),
      });
    }
  }

  const server = createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { message: "Internal failure" }, { "x-amzn-ErrorType": "InternalServerException" });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    trustAnchorArn,
    profileArn,
    roleArn: firstRole.arn,
    requests: () => [...recorded],
    sessions: () => [...issued],
    failNext: (...more) => {
      faults.push(...more);
    },
    reset: () => {
      recorded.length = 0;
      issued.length = 0;
      faults.length = 0;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= BODY_LIMIT_BYTES) chunks.push(chunk as Buffer);
  }
  return size > BODY_LIMIT_BYTES ? undefined : Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(payload)),
    "x-amzn-RequestId": randomUUID(),
    ...headers,
  });
  res.end(payload);
}
