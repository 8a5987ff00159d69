import { Agent as HttpAgent, createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { errorAnswer, operationOf } from "../../../test/support/fault-proxy.ts";
import { SlidingWindow } from "./window.ts";

export interface QuotaProxyOptions {
  /** moto (`http://…`) or the Key Vault emulator (`https://…`). */
  target: string;
  flavor: "aws-json" | "keyvault";
  /** The operations the quota counts (e.g. Secrets Manager writes, Key Vault SetSecret). */
  counted: ReadonlySet<string>;
  /** At most `limit` counted requests are accepted in any window of `windowMs`, as the cloud's quota. */
  limit: number;
  windowMs: number;
  /** Serve HTTPS with this certificate, and trust `upstreamCa` when forwarding. */
  tls?: { cert: string; key: string; upstreamCa: string };
}

/** A request the proxy saw, and when (performance.now()); `throttled` only for counted operations it refused. */
export interface QuotaEvent {
  at: number;
  operation: string;
  /** Whether the quota counts this operation. */
  counted: boolean;
  throttled: boolean;
  /** The upstream's HTTP status, once it answered (absent for requests the proxy refused itself). */
  status?: number;
}

export interface QuotaProxy {
  endpoint: string;
  /** Every request, in arrival order (the cloud calls its clients made, counted outside them). */
  readonly events: readonly QuotaEvent[];
  stop(): Promise<void>;
}

/**
 * A cloud's quota in front of its emulator: counted operations beyond `limit` in any sliding window
 * of `windowMs` are answered as the throttled cloud answers (Secrets Manager 400 `ThrottlingException`,
 * Key Vault 429 `Throttled`; shapes from test/support/fault-proxy.ts) and not forwarded; refused
 * requests do not count toward the window (as Key Vault documents). Everything else is forwarded.
 * Every request is recorded by operation, so it also counts a client's cloud calls from outside
 * (with `limit: Infinity`, it only counts).
 */
export async function startQuotaProxy(options: QuotaProxyOptions): Promise<QuotaProxy> {
  const upstream = new URL(options.target);
  const secure = upstream.protocol === "https:";
  const agent = secure ? new HttpsAgent({ keepAlive: true, maxSockets: 64, ca: options.tls?.upstreamCa }) : new HttpAgent({ keepAlive: true, maxSockets: 64 });
  const events: QuotaEvent[] = [];
  const window = new SlidingWindow(options.limit, options.windowMs);
  const sockets = new Set<Socket>();
  let origin = "";

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const operation = operationOf(options.flavor, req);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const now = performance.now();
      const counted = options.counted.has(operation);
      const accepted = !counted || window.admit(now);
      const event: QuotaEvent = { at: now, operation, counted, throttled: !accepted };
      events.push(event);
      if (!accepted) {
        const answer = errorAnswer(options.flavor, "throttle", undefined);
        res.writeHead(answer.status, { ...answer.headers, "content-length": Buffer.byteLength(answer.body) });
        res.end(answer.body);
        return;
      }
      const send = secure ? httpsRequest : httpRequest;
      const outgoing = send(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent },
        (response) => {
          if (response.statusCode !== undefined) event.status = response.statusCode;
          const parts: Buffer[] = [];
          response.on("data", (chunk: Buffer) => parts.push(chunk));
          response.on("end", () => {
            const payload = Buffer.concat(parts);
            // Key Vault puts its own origin into ids and nextLinks; keep follow-up calls on the proxy.
            const body = options.flavor === "keyvault" && origin ? Buffer.from(payload.toString("utf8").replaceAll(upstream.origin, origin)) : payload;
            const { "content-length": _length, "transfer-encoding": _encoding, connection: _connection, ...rest } = response.headers;
            res.writeHead(response.statusCode ?? 502, { ...rest, "content-length": body.length });
            res.end(body);
          });
        },
      );
      outgoing.on("error", () => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
      outgoing.end(Buffer.concat(chunks));
    });
  };

  const server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handle) : createHttpServer(handle);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `${options.tls ? "https" : "http"}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint: origin,
    events,
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
