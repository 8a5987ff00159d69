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
 *   instead of answering — the client cannot tell it from `reset`, but the write happened.
 */
export type FaultKind = "throttle" | "unavailable" | "reset" | "latency" | "lost_response";

export const FAULT_KINDS: readonly FaultKind[] = ["throttle", "unavailable", "reset", "latency", "lost_response"];

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
}

export interface FaultProxy {
  endpoint: string;
  /** Faults injected so far, per kind. */
  readonly injected: Readonly<Record<FaultKind, number>>;
  /** Every request seen, in arrival order, with what was done to it. */
  readonly log: ReadonlyArray<ProxiedRequest & { fault: FaultKind | "none" }>;
  /** Faults injected so far (all kinds but latency, which only slows a request). */
  failures(): number;
  /** Changes the fault rate from now on (0 turns faults off). */
  setRate(rate: number): void;
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
  const weights: Record<FaultKind, number> = { throttle: 1, unavailable: 1, reset: 1, latency: 1, lost_response: 0, ...options.weights };
  const latency = options.latencyMs ?? { min: 100, max: 400 };
  const retryAfter = options.retryAfterSeconds ?? (options.flavor === "keyvault" ? 1 : undefined);
  const eligible = options.eligible ?? ((request: ProxiedRequest) => options.flavor === "keyvault" || request.operation !== "");
  const injected: Record<FaultKind, number> = { throttle: 0, unavailable: 0, reset: 0, latency: 0, lost_response: 0 };
  const log: Array<ProxiedRequest & { fault: FaultKind | "none" }> = [];
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

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const request: ProxiedRequest = { method: req.method ?? "GET", path: req.url ?? "/", operation: operationOf(options.flavor, req) };
    const { fault, delayMs } = decide(request);
    log.push({ ...request, fault });
    if (fault !== "none") injected[fault]++;
    if (fault === "reset") {
      // Mid-request: the headers are in, the body may still be on its way; nothing was forwarded.
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (fault === "throttle" || fault === "unavailable") {
        const answer = errorAnswer(options.flavor, fault, retryAfter);
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
              res.socket?.destroy();
              return;
            }
            // Key Vault puts its own origin into ids and nextLinks; keep follow-up calls on the proxy.
            const rewritten = options.flavor === "keyvault" && origin ? Buffer.from(payload.toString("utf8").replaceAll(upstream.origin, origin)) : payload;
            const { "content-length": _length, "transfer-encoding": _encoding, connection: _connection, ...rest } = headers;
            res.writeHead(status, { ...rest, "content-length": rewritten.length });
            res.end(rewritten);
          },
          () => {
            if (!res.headersSent) {
              res.writeHead(502);
              res.end();
            } else res.destroy();
          },
        );
      if (fault === "latency") setTimeout(go, delayMs);
      else go();
    });
  };

  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handle) : createHttpServer(handle);
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
    failures: () => injected.throttle + injected.unavailable + injected.reset + injected.lost_response,
    setRate(next) {
      rate = next;
    },
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
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
