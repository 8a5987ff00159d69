import type { IncomingMessage, ServerResponse } from "node:http";
import type { BusPublisher } from "@credmesh/bus";
import type { RuleSet } from "@credmesh/config";
import { isCredmeshError } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import { INGEST_OUTCOME, type IngestOutcome, type Metrics } from "@credmesh/metrics";
import { sendJson } from "@credmesh/runtime";
import type { EventBridgeAuthenticator } from "../auth/eventbridge-auth.ts";
import { REJECT_STATUS, normalizeEventBridge } from "../eventbridge/index.ts";
import { readJsonBody } from "./body.ts";
import { sendError } from "./errors.ts";

export interface EventBridgeRouteDeps {
  auth: EventBridgeAuthenticator;
  publisher: BusPublisher;
  rules: RuleSet;
  bodyLimitBytes: number;
  metrics: Metrics;
  logger: Logger;
}

const SOURCE = "aws.eventbridge";
/** EventBridge retries 429/5xx honouring Retry-After (FORMATS.md B). */
const BUS_RETRY_AFTER_SECONDS = "5";

/**
 * POST /webhooks/eventbridge: authenticate, cap and parse the body, normalize, publish, and only
 * then answer 2xx. Each outcome is counted and logged with the event id, never with the body.
 */
export async function handleEventBridge(req: IncomingMessage, res: ServerResponse, deps: EventBridgeRouteDeps): Promise<number> {
  const count = (outcome: IngestOutcome, reason: string): void => {
    deps.metrics.ingestEvents.inc({ source: SOURCE, outcome, reason });
  };

  if (!deps.auth.authenticate(req.headers)) {
    req.resume();
    count(INGEST_OUTCOME.rejected, "unauthenticated");
    sendError(res, 401, "unauthorized", "missing or invalid EventBridge connection credentials", {
      ...(deps.auth.acceptsBasic ? { headers: { "www-authenticate": 'Basic realm="credmesh", charset="UTF-8"' } } : {}),
    });
    return 401;
  }

  const body = await readJsonBody(req, deps.bodyLimitBytes, ["application/json"]);
  if (!body.ok) {
    count(INGEST_OUTCOME.rejected, body.code);
    sendError(res, body.status, body.code, body.message);
    return body.status;
  }

  const normalized = normalizeEventBridge(body.value, deps.rules);
  switch (normalized.outcome) {
    case "ignored":
      count(INGEST_OUTCOME.ignored, normalized.reason);
      deps.logger.info({ source: SOURCE, outcome: "ignored", reason: normalized.reason }, "event ignored");
      sendJson(res, 200, { status: "ignored", reason: normalized.reason });
      return 200;
    case "out_of_scope":
      count(INGEST_OUTCOME.outOfScope, normalized.reason);
      deps.logger.info({ source: SOURCE, outcome: "out_of_scope", reason: normalized.reason }, "event out of scope");
      sendError(res, 422, "out_of_scope", `the secret is not in scope of any replication rule (${normalized.reason})`);
      return 422;
    case "rejected": {
      const status = REJECT_STATUS[normalized.reason];
      count(INGEST_OUTCOME.rejected, normalized.reason);
      deps.logger.warn({ source: SOURCE, outcome: "rejected", reason: normalized.reason, issues: normalized.issues }, "event rejected");
      sendError(res, status, normalized.reason, "the event was rejected", { issues: normalized.issues });
      return status;
    }
    case "mutation": {
      const event = normalized.event;
      const log = deps.logger.child({ correlationId: event.correlationid, eventId: event.id, rule: event.data.rule });
      try {
        const published = await deps.publisher.publishMutation(event);
        count(published.duplicate ? INGEST_OUTCOME.duplicate : INGEST_OUTCOME.published, event.data.kind);
        log.info(
          { kind: event.data.kind, subject: published.subject, seq: published.seq, duplicate: published.duplicate },
          "mutation published",
        );
        sendJson(res, 202, { status: "accepted", id: event.id, duplicate: published.duplicate });
        return 202;
      } catch (error) {
        if (!isCredmeshError(error) || error.reason !== "bus_unavailable") throw error;
        count(INGEST_OUTCOME.busUnavailable, event.data.kind);
        log.error({ err: error }, "bus unavailable; asking the sender to retry");
        sendError(res, 503, "bus_unavailable", "the event could not be stored; retry later", {
          headers: { "retry-after": BUS_RETRY_AFTER_SECONDS },
        });
        return 503;
      }
    }
  }
}
