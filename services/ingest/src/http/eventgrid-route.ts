import type { IncomingMessage, ServerResponse } from "node:http";
import type { BusPublisher, PublishResult } from "@credmesh/bus";
import type { RuleSet } from "@credmesh/config";
import { isCredmeshError } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import { INGEST_OUTCOME, type IngestOutcome, type Metrics } from "@credmesh/metrics";
import { sendJson } from "@credmesh/runtime";
import { authFailureSummary, type WebhookAuthenticator } from "../auth/eventgrid-auth.ts";
import {
  REJECT_STATUS,
  answerAbuseProtection,
  normalizeEventGrid,
  type EventOutcome,
  type LifecycleOutcome,
  type MutationOutcome,
  type RejectedDecision,
} from "../eventgrid/index.ts";
import { readJsonBody } from "./body.ts";
import { settleBounded } from "./bounded.ts";
import { sendError } from "./errors.ts";
import { publishTurn } from "./publish-turn.ts";

export interface EventGridRouteDeps {
  auth: WebhookAuthenticator;
  publisher: Pick<BusPublisher, "publishMutation" | "publishLifecycle">;
  rules: RuleSet;
  bodyLimitBytes: number;
  publishConcurrency: number;
  allowedOrigins: readonly string[];
  metrics: Metrics;
  logger: Logger;
}

const EVENTGRID_SOURCE = "azure.eventgrid";

/** Event Grid's schema, CloudEvents single, CloudEvents batch (FORMATS.md D). */
const MEDIA_TYPES = ["application/json", "application/cloudevents+json", "application/cloudevents-batch+json"] as const;

/** Event Grid retries a 503 after at least 30 s, whatever we say; say the same (FORMATS.md D). */
const RETRY_AFTER_SECONDS = "30";

/** Refusal issues shown in a response or a log line; a 5,000-event batch must not produce a 1 MB answer. */
const MAX_ISSUES_SHOWN = 50;

/** The metric reason of the valid events of a refused delivery: refused with it, not for themselves. */
const REFUSED_WITH_BATCH = "batch_rejected";

type Publishable = MutationOutcome | LifecycleOutcome;

interface EventResult {
  id: string;
  outcome: "published" | "duplicate" | "ignored" | "out_of_scope";
  reason?: string;
  subject?: string;
}

/**
 * OPTIONS /webhooks/eventgrid: the CloudEvents abuse-protection handshake. Not authenticated:
 * Event Grid sends it without credentials, and it changes nothing — it only tells whether this
 * endpoint accepts deliveries from the requesting origin.
 */
export function handleEventGridOptions(req: IncomingMessage, res: ServerResponse, deps: EventGridRouteDeps): number {
  req.resume();
  const answer = answerAbuseProtection(req.headers, deps.allowedOrigins);
  if (answer.status !== 200) {
    deps.logger.warn({ source: EVENTGRID_SOURCE, code: answer.code }, "abuse-protection handshake refused");
    sendError(res, answer.status, answer.code, answer.message, { headers: { ...answer.headers } });
    return answer.status;
  }
  deps.logger.info({ source: EVENTGRID_SOURCE, origin: answer.origin }, "abuse-protection handshake answered");
  res.writeHead(200, { ...answer.headers, "content-length": "0" });
  res.end();
  return 200;
}

/**
 * POST /webhooks/eventgrid: authenticate (the validation handshake too), cap and parse the body,
 * normalize every event, publish what belongs on the bus concurrently (bounded) with each Event
 * Grid id as the JetStream message id, and answer 200 only when every one is acknowledged.
 * Otherwise 503: Event Grid retries the whole batch, and the events already stored are
 * deduplicated by id. Counted per event; refusals and failures logged at warn/error, routine
 * outcomes per event and per delivery at debug (as the EventBridge route: the stored message, the
 * counters and the replicator's audit record are the record of them). Ids only, never bodies or tokens.
 */
export async function handleEventGrid(req: IncomingMessage, res: ServerResponse, deps: EventGridRouteDeps): Promise<number> {
  const log = deps.logger.child({
    source: EVENTGRID_SOURCE,
    subscription: headerText(req, "aeg-subscription-name"),
    deliveryCount: headerText(req, "aeg-delivery-count"),
  });
  const count = (outcome: IngestOutcome, reason: string, by = 1): void => {
    if (by > 0) deps.metrics.ingestEvents.inc({ source: EVENTGRID_SOURCE, outcome, reason }, by);
  };

  const auth = await deps.auth.authenticate(req.headers);
  if (!auth.ok) {
    req.resume();
    if (auth.retryable) {
      count(INGEST_OUTCOME.rejected, auth.failure);
      log.error({ failure: auth.failure, why: authFailureSummary(auth.failure), err: auth.cause }, "cannot authenticate the delivery now; asking Event Grid to retry");
      sendError(res, 503, "authentication_unavailable", "the delivery cannot be authenticated right now; retry later", {
        headers: { "retry-after": RETRY_AFTER_SECONDS },
      });
      return 503;
    }
    count(INGEST_OUTCOME.rejected, "unauthenticated");
    // Unverified token fields only (alg, kid, iss, aud, …): enough to spot a configuration mismatch.
    log.warn({ failure: auth.failure, why: authFailureSummary(auth.failure), claims: auth.detail }, "delivery refused: not authenticated");
    sendError(res, 401, "unauthorized", "missing or invalid Event Grid credentials", {
      ...(deps.auth.challenge === undefined ? {} : { headers: { "www-authenticate": deps.auth.challenge } }),
    });
    return 401;
  }

  const body = await readJsonBody(req, deps.bodyLimitBytes, MEDIA_TYPES);
  if (!body.ok) {
    count(INGEST_OUTCOME.rejected, body.code);
    log.warn({ code: body.code }, "delivery refused");
    sendError(res, body.status, body.code, body.message);
    return body.status;
  }

  const decision = normalizeEventGrid(body.value, deps.rules, { deliveryType: headerText(req, "aeg-event-type") });
  switch (decision.kind) {
    case "validation":
      log.info({ eventId: decision.eventId }, "subscription validation answered");
      sendJson(res, 200, { validationResponse: decision.validationCode });
      return 200;
    case "rejected":
      return refuse(res, decision, log, count);
    case "events":
      return publishAll(res, decision.events, deps, log, count);
  }
}

function refuse(res: ServerResponse, decision: RejectedDecision, log: Logger, count: (outcome: IngestOutcome, reason: string, by?: number) => void): number {
  for (const event of decision.rejected) count(INGEST_OUTCOME.rejected, event.reason);
  count(INGEST_OUTCOME.rejected, REFUSED_WITH_BATCH, decision.total - decision.rejected.length);
  const issues = shown(decision.issues);
  log.warn({ reason: decision.reason, events: decision.total, refused: decision.rejected.length, issues }, "delivery refused");
  sendError(res, REJECT_STATUS[decision.reason], decision.reason, "the delivery was rejected; no event of it was stored", { issues });
  return REJECT_STATUS[decision.reason];
}

async function publishAll(
  res: ServerResponse,
  events: readonly EventOutcome[],
  deps: EventGridRouteDeps,
  log: Logger,
  count: (outcome: IngestOutcome, reason: string, by?: number) => void,
): Promise<number> {
  const publishable = events.filter((event): event is Publishable => event.outcome === "mutation" || event.outcome === "lifecycle");
  if (publishable.length > 0) await publishTurn();
  const settled = await settleBounded(publishable, deps.publishConcurrency, (event) =>
    event.outcome === "mutation" ? deps.publisher.publishMutation(event.event) : deps.publisher.publishLifecycle(event.event),
  );
  const unexpected = settled.find((result) => result.state === "rejected" && !isBusUnavailable(result.error));
  if (unexpected?.state === "rejected") throw unexpected.error;

  const published = new Map<EventOutcome, PublishResult>();
  let unstored = 0;
  publishable.forEach((event, index) => {
    const result = settled[index];
    const reason = reasonOf(event);
    if (result?.state === "fulfilled") {
      published.set(event, result.value);
      count(result.value.duplicate ? INGEST_OUTCOME.duplicate : INGEST_OUTCOME.published, reason);
      log.debug(
        {
          correlationId: event.event.correlationid,
          eventId: event.event.id,
          eventType: event.ref.eventType,
          ...(event.outcome === "mutation" ? { rule: event.event.data.rule, kind: event.event.data.kind } : {}),
          subject: result.value.subject,
          seq: result.value.seq,
          duplicate: result.value.duplicate,
        },
        event.outcome === "mutation" ? "mutation published" : "lifecycle event published",
      );
    } else {
      unstored++;
      count(INGEST_OUTCOME.busUnavailable, reason);
    }
  });

  if (unstored > 0) {
    const error = settled.find((result) => result.state === "rejected");
    log.error(
      { err: error?.state === "rejected" ? error.error : undefined, events: events.length, unstored },
      "bus unavailable; asking Event Grid to retry the delivery",
    );
    sendError(res, 503, "bus_unavailable", `${unstored} of ${publishable.length} events could not be stored; retry later`, {
      headers: { "retry-after": RETRY_AFTER_SECONDS },
    });
    return 503;
  }

  const results: EventResult[] = events.map((event) => {
    switch (event.outcome) {
      case "ignored":
        count(INGEST_OUTCOME.ignored, event.reason);
        log.debug({ eventId: event.ref.id, eventType: event.ref.eventType, reason: event.reason }, "event ignored");
        return { id: event.ref.id, outcome: "ignored", reason: event.reason };
      case "out_of_scope":
        count(INGEST_OUTCOME.outOfScope, event.reason);
        log.debug({ eventId: event.ref.id, eventType: event.ref.eventType, reason: event.reason, ...event.secret }, "event out of scope");
        return { id: event.ref.id, outcome: "out_of_scope", reason: event.reason };
      default: {
        const result = published.get(event);
        return { id: event.ref.id, outcome: result?.duplicate ? "duplicate" : "published", ...(result ? { subject: result.subject } : {}) };
      }
    }
  });
  const tally = (outcome: EventResult["outcome"]): number => results.filter((result) => result.outcome === outcome).length;
  log.debug(
    { events: events.length, published: tally("published"), duplicate: tally("duplicate"), ignored: tally("ignored"), outOfScope: tally("out_of_scope") },
    "delivery accepted",
  );
  sendJson(res, 200, { status: "accepted", events: results });
  return 200;
}

/** The metric reason of a publishable event: the mutation kind, or `<object>.<kind>` (its subject suffix). */
function reasonOf(event: Publishable): string {
  return event.outcome === "mutation" ? event.event.data.kind : `${event.event.data.objectType}.${event.event.data.kind}`;
}

function isBusUnavailable(error: unknown): boolean {
  return isCredmeshError(error) && error.reason === "bus_unavailable";
}

function shown(issues: readonly string[]): string[] {
  if (issues.length <= MAX_ISSUES_SHOWN) return [...issues];
  return [...issues.slice(0, MAX_ISSUES_SHOWN), `… and ${issues.length - MAX_ISSUES_SHOWN} more issues`];
}

/** A header for a log field: one value, printable, short. */
function headerText(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" ? value.replace(/[^\x20-\x7e]/g, "?").slice(0, 128) : undefined;
}
