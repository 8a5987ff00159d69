import { CredmeshError, classify, parseRetryAfter } from "@credmesh/errors";
import { Sensitive } from "@credmesh/logging";
import { type SigningMaterial, signRolesAnywhereRequest } from "./signing.ts";

/** The CreateSession request body, as AWS names its fields. */
export interface CreateSessionInput {
  durationSeconds: number;
  profileArn: string;
  roleArn: string;
  trustAnchorArn: string;
  /** Only accepted when the profile has acceptRoleSessionName; AWS names the session after the serial otherwise. */
  roleSessionName?: string;
}

/** The credentials of `credentialSet[0]`, secrets wrapped so that no log line can print them. */
export interface SessionCredentials {
  accessKeyId: string;
  secretAccessKey: Sensitive<string>;
  sessionToken: Sensitive<string>;
  expiration: Date;
}

const OPERATION = "rolesanywhere CreateSession";

/**
 * `POST <endpoint>/sessions`, signed with the cell's certificate; one attempt (the credential cache
 * retries on its next call). Failures are classified CredmeshErrors written from the status and AWS's
 * error code only: AWS's message text may quote the request and stays out of them.
 */
export async function createSession(
  endpoint: URL,
  region: string,
  input: CreateSessionInput,
  material: SigningMaterial,
  options: { date: Date; timeoutMs: number },
): Promise<SessionCredentials> {
  const url = new URL(`${endpoint.pathname.replace(/\/+$/, "")}/sessions`, endpoint);
  const body = JSON.stringify({
    durationSeconds: input.durationSeconds,
    profileArn: input.profileArn,
    roleArn: input.roleArn,
    trustAnchorArn: input.trustAnchorArn,
    ...(input.roleSessionName === undefined ? {} : { roleSessionName: input.roleSessionName }),
  });
  const { headers } = signRolesAnywhereRequest({ method: "POST", url, body, region, date: options.date }, material);
  // fetch sets Host itself, from the URL: the same value that was signed.
  const { Host: _host, ...sent } = headers;

  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { method: "POST", headers: sent, body, signal: AbortSignal.timeout(options.timeoutMs), redirect: "error" });
    text = await response.text();
  } catch (error) {
    throw transportFailure(error);
  }
  if (!response.ok) throw createSessionFailure(response.status, response.headers, text);
  return parseCreateSessionResponse(text);
}

/** Reads `credentialSet[0].credentials` of a CreateSession answer; anything else is `identity_unavailable`. */
export function parseCreateSessionResponse(text: string): SessionCredentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CredmeshError("identity_unavailable", `${OPERATION} returned a body that is not JSON`, { cause: error });
  }
  const set = (parsed as { credentialSet?: unknown } | null)?.credentialSet;
  const credentials = (Array.isArray(set) ? (set[0] as { credentials?: unknown } | undefined)?.credentials : undefined) as
    | Record<string, unknown>
    | undefined;
  const { accessKeyId, secretAccessKey, sessionToken, expiration } = credentials ?? {};
  if (typeof accessKeyId !== "string" || typeof secretAccessKey !== "string" || typeof sessionToken !== "string") {
    throw new CredmeshError("identity_unavailable", `${OPERATION} returned no credentials`);
  }
  if (accessKeyId === "" || secretAccessKey === "" || sessionToken === "") {
    throw new CredmeshError("identity_unavailable", `${OPERATION} returned empty credentials`);
  }
  // AWS sends an ISO 8601 string; a number would be epoch seconds (smithy's JSON default).
  const expiresAt =
    typeof expiration === "string" ? Date.parse(expiration) : typeof expiration === "number" ? expiration * 1000 : Number.NaN;
  if (!Number.isFinite(expiresAt)) {
    throw new CredmeshError("identity_unavailable", `${OPERATION} returned credentials without a readable expiration`);
  }
  return {
    accessKeyId,
    secretAccessKey: new Sensitive(secretAccessKey),
    sessionToken: new Sensitive(sessionToken),
    expiration: new Date(expiresAt),
  };
}

/**
 * Classifies an error answer: AWS's code from `x-amzn-ErrorType` (REST-JSON) or the body's `__type` /
 * `code`, then the status. AccessDeniedException (403) is permanent `access_denied`; ValidationException
 * permanent `validation`; throttling, 5xx and timeouts retryable, with Retry-After honoured.
 */
export function createSessionFailure(
  status: number,
  headers: { get(name: string): string | null },
  text: string,
  now: number = Date.now(),
): CredmeshError {
  let code = headers.get("x-amzn-errortype") ?? undefined;
  if (code === undefined || code === "") {
    try {
      const body = JSON.parse(text) as { __type?: unknown; code?: unknown; Code?: unknown } | null;
      const fromBody = body?.__type ?? body?.code ?? body?.Code;
      code = typeof fromBody === "string" && fromBody !== "" ? fromBody : undefined;
    } catch {
      code = undefined;
    }
  }
  return classify(OPERATION, { status, code, retryAfterMs: parseRetryAfter(headers.get("retry-after"), now) });
}

/** A failure before any answer: our timeout, or a socket/DNS/TLS error (undici puts the code in `cause`). */
export function transportFailure(error: unknown): CredmeshError {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === "TimeoutError" || name === "AbortError") return classify(OPERATION, { timedOut: true }, error);
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  const nodeCode = typeof cause?.code === "string" ? cause.code : (error as { code?: unknown } | null)?.code;
  return classify(OPERATION, { nodeCode: typeof nodeCode === "string" ? nodeCode : "UNKNOWN" }, error);
}
