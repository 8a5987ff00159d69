import type { IncomingMessage, ServerResponse } from "node:http";
import type { BusPublisher } from "@credmesh/bus";
import type { RuleSet } from "@credmesh/config";
import { isCredmeshError } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import { INGEST_OUTCOME, childrenOf, type IngestOutcome, type Metrics } from "@credmesh/metrics";
import { sendJson } from "@credmesh/runtime";
import type { EventBridgeAuthenticator } from "../auth/eventbridge-auth.ts";
import { REJECT_STATUS, normalizeEventBridge } from "../eventbridge/index.ts";
import { readJsonBody } from "./body.ts";
import { sendError } from "./errors.ts";
import { publishTurn } from "./publish-turn.ts";

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
const MEDIA_TYPES = ["application/json"] as const;

/**
 * POST /webhooks/eventbridge: authenticate, cap and parse the body, normalize, publish, and only
 * then answer 2xx. Each outcome is counted; refusals and failures are logged (warn/error), routine
 * outcomes only at debug (see {@link eventBridgeRoute}). Never with the body.
 */
export type EventBridgeHandler = (req: IncomingMessage, res: ServerResponse) => Promise<number>;

/**
 * Builds the EventBridge handler once at boot. What a request needs that does not depend on the
 * request (the outcome counters' labelled children, whether debug lines are written) is resolved
 * here, not per delivery.
 *
 * Published, duplicate, ignored and out-of-scope deliveries are logged at debug only: at info, a
 * line per webhook cost ingest a tenth of its CPU (pino serialisation, redaction of a per-request
 * child logger, the stdout write) for a record that exists anyway — the stored message (its id is
 * the sender's event id), `credmesh_ingest_events_total{source,outcome,reason}` and the
 * replicator's audit record.
 */
export function eventBridgeRoute(deps: EventBridgeRouteDeps): EventBridgeHandler {
  const events = childrenOf(deps.metrics.ingestEvents, ["source", "outcome", "reason"]);
  const count = (outcome: IngestOutcome, reason: string): void => {
    events({ source: SOURCE, outcome, reason }).inc();
  };
  return async (req, res) => {
    if (!deps.auth.authenticate(req.headers)) {
      req.resume();
      count(INGEST_OUTCOME.rejected, "unauthenticated");
      sendError(res, 401, "unauthorized", "missing or invalid EventBridge connection credentials", {
        ...(deps.auth.acceptsBasic ? { headers: { "www-authenticate": 'Basic realm="credmesh", charset="UTF-8"' } } : {}),
      });
      return 401;
    }

    const body = await readJsonBody(req, deps.bodyLimitBytes, MEDIA_TYPES);
    if (!body.ok) {
      count(INGEST_OUTCOME.rejected, body.code);
      sendError(res, body.status, body.code, body.message);
      return body.status;
    }

    const normalized = normalizeEventBridge(body.value, deps.rules);
    switch (normalized.outcome) {
      case "ignored":
        count(INGEST_OUTCOME.ignored, normalized.reason);
        deps.logger.debug({ source: SOURCE, outcome: "ignored", reason: normalized.reason }, "event ignored");
        sendJson(res, 200, { status: "ignored", reason: normalized.reason });
        return 200;
      case "out_of_scope":
        count(INGEST_OUTCOME.outOfScope, normalized.reason);
        deps.logger.debug({ source: SOURCE, outcome: "out_of_scope", reason: normalized.reason }, "event out of scope");
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
        const ids = { correlationId: event.correlationid, eventId: event.id, rule: event.data.rule };
        try {
          await publishTurn();
          const published = await deps.publisher.publishMutation(event);
          count(published.duplicate ? INGEST_OUTCOME.duplicate : INGEST_OUTCOME.published, event.data.kind);
          deps.logger.debug(
            { ...ids, kind: event.data.kind, subject: published.subject, seq: published.seq, duplicate: published.duplicate },
            "mutation published",
          );
          sendJson(res, 202, { status: "accepted", id: event.id, duplicate: published.duplicate });
          return 202;
        } catch (error) {
          if (!isCredmeshError(error) || error.reason !== "bus_unavailable") throw error;
          count(INGEST_OUTCOME.busUnavailable, event.data.kind);
          deps.logger.error({ ...ids, err: error }, "bus unavailable; asking the sender to retry");
          sendError(res, 503, "bus_unavailable", "the event could not be stored; retry later", {
            headers: { "retry-after": BUS_RETRY_AFTER_SECONDS },
          });
          return 503;
        }
      }
    }
  };
}
