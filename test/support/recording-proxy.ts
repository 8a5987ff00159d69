import { randomUUID } from "node:crypto";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  /** STS Query action or the JSON 1.1 X-Amz-Target, e.g. "AssumeRoleWithWebIdentity", "secretsmanager.GetSecretValue". */
  action: string;
  /** The form parameters of a Query-protocol request (STS): `WebIdentityToken`, `RoleSessionName`, ... */
  params: URLSearchParams;
  /** When the proxy received the request (ms since the epoch). */
  at: number;
  /** The access key id the request was signed with (SigV4 `Credential=`), if it was signed. */
  accessKeyId: string | undefined;
  /** The response status, once the answer came back (or the proxy answered itself). */
  status: number | undefined;
}

/** Temporary credentials an STS response handed out, as the proxy saw them. */
export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** The expiration the caller was told (after any lifetime limit). */
  expiration: Date;
  /** `RoleArn` and `RoleSessionName` of the request that obtained them. */
  roleArn: string;
  sessionName: string;
}

/**
 * An HTTP forwarder in front of moto that records every request's action. It gives tests an
 * independent count of cloud calls (STS calls per N events), outside the code under test.
 *
 * Optional powers, off unless asked for:
 * - `route(action, target)`: send one Query action elsewhere (moto lacks STS GetWebIdentityToken;
 *   a stand-in serves it). The original `Host` travels in `X-Forwarded-Host` so a SigV4 verifier
 *   behind the proxy can rebuild the signed request.
 * - `limitCredentialLifetime(seconds)`: STS as a short session duration would make it — the
 *   Expiration of AssumeRole* answers is cut to now + seconds, and requests signed with such
 *   credentials after that moment are refused with ExpiredToken(Exception), as AWS refuses them.
 *   moto neither shortens nor enforces lifetimes, so this is how a test makes credentials really
 *   expire mid-run.
 */
export interface RecordingProxy {
  endpoint: string;
  requests: RecordedRequest[];
  count(action: string): number;
  /** Serves a Query `Action` from `target` instead of the upstream. */
  route(action: string, target: string): void;
  /** Shortens and enforces the lifetime of credentials issued from now on; `undefined` turns it off. */
  limitCredentialLifetime(seconds: number | undefined): void;
  /** Credentials handed out by STS answers that passed through, by access key id. */
  issued: ReadonlyMap<string, IssuedCredentials>;
  /** Requests refused because their credentials had expired. */
  expiredRefusals(): number;
  stop(): Promise<void>;
}

const ASSUME_ROLE_ACTIONS = new Set(["AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"]);
const CREDENTIAL = /Credential=([A-Z0-9]+)\//;

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const requests: RecordedRequest[] = [];
  const routes = new Map<string, URL>();
  const issued = new Map<string, IssuedCredentials>();
  /** Access keys whose lifetime this proxy enforces, with their expiry (ms). */
  const enforced = new Map<string, number>();
  let lifetimeSeconds: number | undefined;
  let refusals = 0;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const text = body.toString("utf8");
      const params = new URLSearchParams((req.headers["content-type"] ?? "").includes("x-www-form-urlencoded") ? text : "");
      const amzTarget = req.headers["x-amz-target"];
      const action = params.get("Action") ?? (typeof amzTarget === "string" ? amzTarget : "");
      const authorization = req.headers.authorization ?? "";
      const recorded: RecordedRequest = {
        method: req.method ?? "GET",
        path: req.url ?? "/",
        action,
        params,
        at: Date.now(),
        accessKeyId: CREDENTIAL.exec(authorization)?.[1],
        status: undefined,
      };
      requests.push(recorded);

      const expiry = recorded.accessKeyId === undefined ? undefined : enforced.get(recorded.accessKeyId);
      if (expiry !== undefined && recorded.at >= expiry) {
        refusals += 1;
        recorded.status = 400;
        refuseExpired(res, typeof amzTarget === "string");
        return;
      }

      const destination = routes.get(params.get("Action") ?? "") ?? upstream;
      const rewrite = ASSUME_ROLE_ACTIONS.has(params.get("Action") ?? "");
      const forward = request(
        {
          host: destination.hostname,
          port: destination.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: destination.host, "x-forwarded-host": req.headers.host ?? "" },
          // A fresh connection per request: a pooled one that moto closes while idle would turn
          // into a reset no test caused.
          agent: false,
        },
        (response) => {
          recorded.status = response.statusCode;
          if (!rewrite || response.statusCode !== 200) {
            res.writeHead(response.statusCode ?? 502, response.headers);
            response.pipe(res);
            return;
          }
          collect(response).then((xml) => {
            const answer = observeCredentials(xml, params);
            res.writeHead(200, { ...response.headers, "content-length": String(Buffer.byteLength(answer)) });
            res.end(answer);
          }, () => {
            res.writeHead(502);
            res.end();
          });
        },
      );
      forward.on("error", () => {
        recorded.status = 502;
        res.writeHead(502);
        res.end();
      });
      forward.end(body);
    });
  });

  /** Records the credentials of an AssumeRole* answer and applies the lifetime limit to it. */
  function observeCredentials(xml: string, params: URLSearchParams): string {
    const field = (name: string): string | undefined => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
    const accessKeyId = field("AccessKeyId");
    const expiration = field("Expiration");
    if (accessKeyId === undefined || expiration === undefined) return xml;
    let expiresAt = new Date(expiration);
    let answer = xml;
    if (lifetimeSeconds !== undefined) {
      const limited = new Date(Date.now() + lifetimeSeconds * 1000);
      if (limited < expiresAt) {
        expiresAt = limited;
        answer = xml.replace(`<Expiration>${expiration}</Expiration>`, `<Expiration>${limited.toISOString()}</Expiration>`);
      }
      enforced.set(accessKeyId, expiresAt.getTime());
    }
    issued.set(accessKeyId, {
      accessKeyId,
      secretAccessKey: field("SecretAccessKey") ?? "",
      sessionToken: field("SessionToken") ?? "",
      expiration: expiresAt,
      roleArn: params.get("RoleArn") ?? "",
      sessionName: params.get("RoleSessionName") ?? "",
    });
    return answer;
  }

  // Never close an idle keep-alive connection under a client (see fault-proxy.ts).
  server.keepAliveTimeout = 600_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    count: (action) => requests.filter((r) => r.action === action || r.action.endsWith(`.${action}`)).length,
    route: (action, to) => void routes.set(action, new URL(to)),
    limitCredentialLifetime: (seconds) => {
      lifetimeSeconds = seconds;
    },
    issued,
    expiredRefusals: () => refusals,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function collect(stream: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => parts.push(chunk));
    stream.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    stream.on("error", reject);
  });
}

/** AWS's answer to a request signed with expired temporary credentials, in the request's protocol. */
function refuseExpired(res: ServerResponse, json: boolean): void {
  const message = "The security token included in the request is expired";
  if (json) {
    res.writeHead(400, { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": "ExpiredTokenException", "x-amzn-requestid": randomUUID() });
    res.end(JSON.stringify({ __type: "ExpiredTokenException", message }));
    return;
  }
  res.writeHead(400, { "content-type": "text/xml" });
  res.end(
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>ExpiredToken</Code>` +
      `<Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}
