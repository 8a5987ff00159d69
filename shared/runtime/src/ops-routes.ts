import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { evaluateReadiness, type ReadinessCheck } from "./readiness.ts";

export interface OpsRoutes {
  /** Answers /healthz, /readyz and /metrics; returns false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

/**
 * The operational endpoints every service exposes: `/healthz` (the process is alive),
 * `/readyz` (it can do its work), `/metrics` (Prometheus text format).
 */
export function opsRoutes(registry: Registry, checks: Readonly<Record<string, ReadinessCheck>>): OpsRoutes {
  return {
    async handle(req, res) {
      if (req.method !== "GET" && req.method !== "HEAD") return false;
      const path = (req.url ?? "/").split("?")[0];
      switch (path) {
        case "/healthz":
          sendJson(res, 200, { status: "ok" });
          return true;
        case "/readyz": {
          const report = await evaluateReadiness(checks);
          sendJson(res, report.ready ? 200 : 503, report);
          return true;
        }
        case "/metrics": {
          const body = await registry.metrics();
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(body);
          return true;
        }
        default:
          return false;
      }
    },
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Serves only the ops endpoints on their own listener (services whose only HTTP surface they are),
 * answering 404 for anything else. Resolves once listening, with the port actually bound.
 */
export async function listenOps(routes: OpsRoutes, host: string, port: number): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    void routes.handle(req, res).then((handled) => {
      if (!handled) sendJson(res, 404, { error: { code: "not_found", message: "no such endpoint" } });
    });
  });
  server.listen(port, host);
  await once(server, "listening");
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
