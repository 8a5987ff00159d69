import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import type { OpsRoutes } from "@credmesh/runtime";
import { handleEventBridge, type EventBridgeRouteDeps } from "./eventbridge-route.ts";
import { sendError } from "./errors.ts";

export interface IngestServerDeps extends EventBridgeRouteDeps {
  ops: OpsRoutes;
  metrics: Metrics;
  logger: Logger;
}

const ROUTES = { eventbridge: "/webhooks/eventbridge" } as const;

/**
 * The ingest HTTP server. Webhook routes answer only after the bus has the event; ops routes
 * answer health, readiness and metrics. An unexpected failure answers 500 and keeps serving.
 */
export function createIngestServer(deps: IngestServerDeps): Server {
  const server = createServer((req, res) => {
    void route(req, res, deps);
  });
  // EventBridge gives up after 5 s; slow clients must not hold sockets for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  return server;
}

async function route(req: IncomingMessage, res: ServerResponse, deps: IngestServerDeps): Promise<void> {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  const endpoint = path === ROUTES.eventbridge ? "eventbridge" : "other";
  const stop = deps.metrics.ingestRequestDuration.startTimer({ endpoint });
  let status = 500;
  try {
    if (path === ROUTES.eventbridge) {
      if (req.method !== "POST") {
        req.resume();
        sendError(res, 405, "method_not_allowed", "use POST", { headers: { allow: "POST" } });
        status = 405;
      } else {
        status = await handleEventBridge(req, res, deps);
      }
    } else if (await deps.ops.handle(req, res)) {
      status = res.statusCode;
    } else {
      req.resume();
      sendError(res, 404, "not_found", "no such endpoint");
      status = 404;
    }
  } catch (error) {
    deps.logger.error({ err: error, endpoint }, "request failed");
    if (!res.headersSent) sendError(res, 500, "internal_error", "the request could not be processed");
    status = 500;
  } finally {
    stop();
    deps.metrics.ingestRequests.inc({ endpoint, status: String(status) });
  }
}
