import { randomUUID } from "node:crypto";
import { Agent as HttpAgent, createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from "node:https";
import type { AddressInfo, Socket } from "node:net";

/**
 * What the proxy does to one request:
 * - `throttle`: answers as the throttled cloud does (Key Vault 429 `Throttled` with Retry-After;
 *   Secrets Manager HTTP 400 `ThrottlingException`, JSON 1.1), without forwarding;
 * - `unavailable`: answers 503 (Key Vault `ServiceUnavailable`; AWS `ServiceUnavailable`), without forwarding;
 * - `reset`: destroys the connection mid-request, before anything reaches the cloud;
 * - `latency`: forwards after a delay;
 * - `lost_response`: forwards, lets the cloud apply the request, then destroys the connection
 *   instead of answering — the client cannot tell it from `reset`, but the write happened;
 * - `hang`: accepts the request and never answers (a cloud that stopped responding), until the
 *   client gives up or the proxy is told to {@link FaultProxy.releaseHung} or stops. Only through
 *   {@link FaultProxy.hangWhen}, never drawn at random.
 */
export type FaultKind = "throttle" | "unavailable" | "reset" | "latency" | "lost_response" | "hang";

/** The kinds drawn at random (weights); `hang` is only ever asked for explicitly. */
export const FAULT_KINDS: readonly Exclude<FaultKind, "hang">[] = ["throttle", "unavailable", "reset", "latency", "lost_response"];

export interface FaultProxyOptions {
  /** Where requests go: moto (`http://…`) or the Key Vault emulator (`https://…`). */
  target: string;
  /** Whose error shapes to answer with. */
  flavor: "aws-json" | "keyvault";
  /** Share of eligible requests that get a fault. Default 1/5. */
  rate?: number;
  /**
   * Relative weights of the kinds among faults. Default: throttle, unavailable, reset and latency
   * alike; `lost_response` never (it asks for idempotent writes; opt in to test that).
   */
  weights?: Partial<Record<FaultKind, number>>;
  /** PRNG seed: the same seed gives the same sequence of decisions. Default 1. */
  seed?: number;
  /** Added latency range. Default 100–400 ms. */
  latencyMs?: { min: number; max: number };
  /** Retry-After (seconds) on throttling answers. Default 1 for Key Vault, none for AWS (as the services do). */
  retryAfterSeconds?: number;
  /** Serve HTTPS with this certificate, and trust `upstreamCa` when forwarding (the emulator's CA). */
  tls?: { cert: string; key: string; upstreamCa: string };
  /**
   * Which requests may get a fault. Default: every Key Vault request; for AWS, JSON 1.1 calls
   * (X-Amz-Target) only, so STS (a Query protocol with XML errors) passes untouched.
   */
  eligible?: (request: ProxiedRequest) => boolean;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  /** `GetSecretValue`, `SetSecret`, … (see {@link operationOf}). */
  operation: string;
  /** The secret the request concerns, when it names one: the JSON body's `SecretId`, or the Key Vault path's name. Known once the body is in. */
  secret?: string;
}

/**
 * What became of one request, so every failure a client saw can be attributed to its cause:
 * - `injected`: a fault of this proxy (any kind but latency);
 * - `upstream_error`: the cloud (or the forwarder behind it) answered 429 or 5xx, or could not be reached;
 * - `client_closed`: the client gave up (its timeout or deadline) before the answer;
 * - `ok`: answered with the cloud's answer;
 * - `pending`: not settled yet (a hung request still open).
 */
export type RequestOutcome = "injected" | "upstream_error" | "client_closed" | "ok" | "pending";

export interface LoggedRequest extends ProxiedRequest {
  fault: FaultKind | "none";
  outcome: RequestOutcome;
  /** When the proxy received it and when it settled (ms since the epoch). */
  at: number;
  settledAt?: number;
}

export interface FaultProxy {
  endpoint: string;
  /** Faults injected so far, per kind. */
  readonly injected: Readonly<Record<FaultKind, number>>;
  /** Every request seen, in arrival order, with what was done to it and what became of it. */
  readonly log: ReadonlyArray<LoggedRequest>;
  /** Faults injected so far (all kinds but latency, which only slows a request). */
  failures(): number;
  /** Requests the proxy forwarded whose answer was a failure it did not cause, or that the client abandoned. */
  unattributed(): { upstreamErrors: number; clientClosed: number };
  /** Changes the fault rate from now on (0 turns faults off). */
  setRate(rate: number): void;
  /** Hangs every request `predicate` picks from now on (`undefined` stops hanging new ones). */
  hangWhen(predicate: ((request: ProxiedRequest) => boolean) | undefined): void;
  /** Destroys the connections of hung requests still open. */
  releaseHung(): void;
  stop(): Promise<void>;
}

/** A small, seedable PRNG (mulberry32): deterministic fault sequences without a dependency. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * An HTTP(S) proxy in front of a cloud emulator that injects the failures real clouds produce,
 * for a configurable share of requests, from a seeded PRNG, and counts what it injected. It gives
 * the reliability tests real 429/503 answers in each cloud's own wire shape, real connection
 * resets and real latency — outside the code under test.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.target);
  const secure = upstream.protocol === "https:";
  const random = seededRandom(options.seed ?? 1);
  let rate = options.rate ?? 0.2;
  const weights: Record<FaultKind, number> = { throttle: 1, unavailable: 1, reset: 1, latency: 1, lost_response: 0, hang: 0, ...options.weights };
  const latency = options.latencyMs ?? { min: 100, max: 400 };
  const retryAfter = options.retryAfterSeconds ?? (options.flavor === "keyvault" ? 1 : undefined);
  const eligible = options.eligible ?? ((request: ProxiedRequest) => options.flavor === "keyvault" || request.operation !== "");
  const injected: Record<FaultKind, number> = { throttle: 0, unavailable: 0, reset: 0, latency: 0, lost_response: 0, hang: 0 };
  const log: LoggedRequest[] = [];
  let hangPredicate: ((request: ProxiedRequest) => boolean) | undefined;
  const hung = new Set<IncomingMessage>();
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, maxSockets: 64, ca: options.tls?.upstreamCa })
    : new HttpAgent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();
  let origin = "";

  const decide = (request: ProxiedRequest): { fault: FaultKind | "none"; delayMs: number } => {
    // Always three draws per request, so one request's kind never shifts the next one's luck.
    const [hit, pick, spread] = [random(), random(), random()];
    if (!eligible(request) || hit >= rate) return { fault: "none", delayMs: 0 };
    const total = FAULT_KINDS.reduce((sum, kind) => sum + weights[kind], 0);
    let point = pick * total;
    const fault = FAULT_KINDS.find((kind) => (point -= weights[kind]) < 0) ?? "latency";
    return { fault, delayMs: latency.min + Math.round(spread * (latency.max - latency.min)) };
  };

  const forward = (req: IncomingMessage, body: Buffer, onResponse: (status: number, headers: IncomingMessage["headers"], payload: Buffer) => void, onError: () => void): void => {
    const send = secure ? httpsRequest : httpRequest;
    const outgoing = send(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => onResponse(response.statusCode ?? 502, response.headers, Buffer.concat(chunks)));
        response.on("error", onError);
      },
    );
    outgoing.on("error", onError);
    outgoing.end(body);
  };

  const settle = (entry: LoggedRequest, outcome: RequestOutcome): void => {
    if (entry.outcome !== "pending") return;
    entry.outcome = outcome;
    entry.settledAt = Date.now();
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const request: ProxiedRequest = { method: req.method ?? "GET", path: req.url ?? "/", operation: operationOf(options.flavor, req) };
    const decided = decide(request);
    let fault: FaultKind | "none" = decided.fault;
    const entry: LoggedRequest = { ...request, fault, outcome: "pending", at: Date.now() };
    log.push(entry);
    if (fault === "reset") {
      injected.reset++;
      settle(entry, "injected");
      // Mid-request: the headers are in, the body may still be on its way; nothing was forwarded.
      req.socket.destroy();
      return;
    }
    // The client went away before an answer: its timeout or deadline (or a fault's own destroy).
    res.on("close", () => {
      if (!res.writableFinished) settle(entry, "client_closed");
    });
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      entry.secret = secretOf(options.flavor, request.path, body);
      if (hangPredicate?.({ ...request, secret: entry.secret })) {
        fault = "hang";
        entry.fault = "hang";
      }
      if (fault !== "none") injected[fault]++;
      if (fault === "hang") {
        // Accept and never answer; counted as injected when the client gives up.
        hung.add(req);
        res.on("close", () => {
          hung.delete(req);
          if (entry.outcome === "client_closed") entry.outcome = "injected";
        });
        return;
      }
      if (fault === "throttle" || fault === "unavailable") {
        const answer = errorAnswer(options.flavor, fault, retryAfter);
        settle(entry, "injected");
        res.writeHead(answer.status, { ...answer.headers, "content-length": Buffer.byteLength(answer.body) });
        res.end(answer.body);
        return;
      }
      const go = (): void =>
        forward(
          req,
          body,
          (status, headers, payload) => {
            if (fault === "lost_response") {
              settle(entry, "injected");
              res.socket?.destroy();
              return;
            }
            settle(entry, status === 429 || status >= 500 ? "upstream_error" : "ok");
            // Key Vault puts its own origin into ids and nextLinks; keep follow-up calls on the proxy.
            const rewritten = options.flavor === "keyvault" && origin ? Buffer.from(payload.toString("utf8").replaceAll(upstream.origin, origin)) : payload;
            const { "content-length": _length, "transfer-encoding": _encoding, connection: _connection, ...rest } = headers;
            res.writeHead(status, { ...rest, "content-length": rewritten.length });
            res.end(rewritten);
          },
          () => {
            settle(entry, "upstream_error");
            if (!res.headersSent) {
              res.writeHead(502);
              res.end();
            } else res.destroy();
          },
        );
      if (fault === "latency") setTimeout(go, decided.delayMs);
      else go();
    });
  };

  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handle) : createHttpServer(handle);
  // Never close an idle keep-alive connection under a client: a client that reuses a socket the
  // server is closing sees a reset that no fault caused (Node's default is 5 s).
  server.keepAliveTimeout = 600_000;
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  origin = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;
  return {
    endpoint: origin,
    injected,
    log,
    failures: () => log.filter((entry) => entry.outcome === "injected").length,
    unattributed: () => ({
      upstreamErrors: log.filter((entry) => entry.outcome === "upstream_error").length,
      clientClosed: log.filter((entry) => entry.outcome === "client_closed").length,
    }),
    setRate(next) {
      rate = next;
    },
    hangWhen(predicate) {
      hangPredicate = predicate;
    },
    releaseHung() {
      for (const req of hung) req.socket.destroy();
    },
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The secret a request names: Secrets Manager's `SecretId`/`Name` in the JSON body, Key Vault's `/secrets/{name}` segment. */
export function secretOf(flavor: "aws-json" | "keyvault", path: string, body: Buffer): string | undefined {
  if (flavor === "aws-json") {
    try {
      const parsed = JSON.parse(body.toString("utf8")) as { SecretId?: unknown; Name?: unknown };
      const id = typeof parsed.SecretId === "string" ? parsed.SecretId : typeof parsed.Name === "string" ? parsed.Name : undefined;
      return id;
    } catch {
      return undefined;
    }
  }
  const [collection, name] = new URL(path, "https://vault").pathname.split("/").filter((segment) => segment !== "");
  return (collection === "secrets" || collection === "deletedsecrets") && name ? decodeURIComponent(name) : undefined;
}

/** The cloud's operation: the JSON 1.1 target's action for AWS, the REST operation for Key Vault. */
export function operationOf(flavor: "aws-json" | "keyvault", req: Pick<IncomingMessage, "method" | "url" | "headers">): string {
  if (flavor === "aws-json") {
    const target = req.headers["x-amz-target"];
    return typeof target === "string" ? (target.split(".").at(-1) ?? "") : "";
  }
  const method = req.method ?? "GET";
  const segments = new URL(req.url ?? "/", "https://vault").pathname.split("/").filter((segment) => segment !== "");
  const [collection, , tail] = segments;
  if (collection === "secrets") {
    if (segments.length === 1) return "GetSecrets";
    if (method === "PUT") return "SetSecret";
    if (method === "DELETE") return "DeleteSecret";
    if (method === "PATCH") return "UpdateSecret";
    if (tail === "versions") return "GetSecretVersions";
    return "GetSecret";
  }
  if (collection === "deletedsecrets") {
    if (segments.length === 1) return "GetDeletedSecrets";
    if (tail === "recover") return "RecoverDeletedSecret";
    if (method === "DELETE") return "PurgeDeletedSecret";
    return "GetDeletedSecret";
  }
  return `${method} /${collection ?? ""}`;
}

/** An error answer in the cloud's own shape (FORMATS.md E and F). */
export function errorAnswer(
  flavor: "aws-json" | "keyvault",
  fault: "throttle" | "unavailable",
  retryAfterSeconds: number | undefined,
): { status: number; headers: Record<string, string>; body: string } {
  const retryAfter: Record<string, string> = retryAfterSeconds === undefined ? {} : { "retry-after": String(retryAfterSeconds) };
  if (flavor === "keyvault") {
    const body =
      fault === "throttle"
        ? { error: { code: "Throttled", message: "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached" } }
        : { error: { code: "ServiceUnavailable", message: "The service is temporarily unavailable. Please retry later." } };
    return {
      status: fault === "throttle" ? 429 : 503,
      headers: {
        "content-type": "application/json; charset=utf-8",
        "x-ms-request-id": randomUUID(),
        "x-ms-keyvault-service-version": "emulator",
        ...(fault === "throttle" ? retryAfter : {}),
      },
      body: JSON.stringify(body),
    };
  }
  const type = fault === "throttle" ? "ThrottlingException" : "ServiceUnavailable";
  return {
    status: fault === "throttle" ? 400 : 503,
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amzn-requestid": randomUUID(),
      "x-amzn-errortype": type,
      ...(fault === "throttle" ? retryAfter : {}),
    },
    body: JSON.stringify({ __type: type, message: fault === "throttle" ? "Rate exceeded" : "Service Unavailable" }),
  };
}
