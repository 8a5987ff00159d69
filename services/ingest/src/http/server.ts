import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "@credmesh/logging";
import { childrenOf, type Metrics } from "@credmesh/metrics";
import type { OpsRoutes } from "@credmesh/runtime";
import { ALLOW_METHODS } from "../eventgrid/index.ts";
import { eventBridgeRoute, type EventBridgeHandler, type EventBridgeRouteDeps } from "./eventbridge-route.ts";
import { handleEventGrid, handleEventGridOptions, type EventGridRouteDeps } from "./eventgrid-route.ts";
import { sendError } from "./errors.ts";

export interface IngestServerDeps extends EventBridgeRouteDeps {
  /** The Event Grid webhook; absent when it is disabled (its path then answers 404). */
  eventGrid?: EventGridRouteDeps;
  ops: OpsRoutes;
  metrics: Metrics;
  logger: Logger;
}

const ROUTES = { eventbridge: "/webhooks/eventbridge", eventgrid: "/webhooks/eventgrid" } as const;

type Endpoint = keyof typeof ROUTES | "other";

/**
 * The ingest HTTP server. Webhook routes answer only after the bus has the event; ops routes
 * answer health, readiness and metrics. An unexpected failure answers 500 and keeps serving.
 */
export function createIngestServer(deps: IngestServerDeps): Server {
  const observe = requestMetrics(deps.metrics);
  const handleEventBridge = eventBridgeRoute(deps);
  const server = createServer((req, res) => {
    void route(req, res, deps, observe, handleEventBridge);
  });
  // EventBridge gives up after 5 s and Event Grid after 30 s; slow clients must not hold sockets for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  return server;
}

/** The request metrics' labelled children, each created once per label combination. */
function requestMetrics(metrics: Metrics) {
  return {
    duration: childrenOf(metrics.ingestRequestDuration, ["endpoint"]),
    requests: childrenOf(metrics.ingestRequests, ["endpoint", "status"]),
  };
}

type RequestMetrics = ReturnType<typeof requestMetrics>;

function endpointOf(path: string): Endpoint {
  if (path === ROUTES.eventbridge) return "eventbridge";
  if (path === ROUTES.eventgrid) return "eventgrid";
  return "other";
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  deps: IngestServerDeps,
  observe: RequestMetrics,
  handleEventBridge: EventBridgeHandler,
): Promise<void> {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  const endpoint = endpointOf(path);
  const stop = observe.duration({ endpoint }).startTimer();
  let status = 500;
  try {
    if (endpoint === "eventbridge") {
      if (req.method !== "POST") {
        status = methodNotAllowed(req, res, "POST");
      } else {
        status = await handleEventBridge(req, res);
      }
    } else if (endpoint === "eventgrid") {
      if (deps.eventGrid === undefined) {
        req.resume();
        sendError(res, 404, "not_found", "the Event Grid webhook is not enabled (CREDMESH_EVENTGRID_AUTH)");
        status = 404;
      } else if (req.method === "POST") {
        status = await handleEventGrid(req, res, deps.eventGrid);
      } else if (req.method === "OPTIONS") {
        status = handleEventGridOptions(req, res, deps.eventGrid);
      } else {
        status = methodNotAllowed(req, res, ALLOW_METHODS);
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
    observe.requests({ endpoint, status: String(status) }).inc();
  }
}

function methodNotAllowed(req: IncomingMessage, res: ServerResponse, allow: string): number {
  req.resume();
  sendError(res, 405, "method_not_allowed", `use ${allow}`, { headers: { allow } });
  return 405;
}
