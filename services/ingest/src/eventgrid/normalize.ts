import { scopeOfOrigin, type RuleSet } from "@credmesh/config";
import { InvalidEventError, buildLifecycleEvent, buildMutationEvent, type LifecycleData } from "@credmesh/events";
import { isJsonObject } from "../json/fields.ts";
import { SUBSCRIPTION_VALIDATION_EVENT_TYPE, decisionForEventType, type EventTypeDecision } from "./event-types.ts";
import { parseEnvelope, type GridEvent } from "./envelope.ts";
import { readKeyVaultData, type KeyVaultData } from "./key-vault-data.ts";
import {
  rejectedEvent,
  type DeliveryDecision,
  type EventOutcome,
  type EventRef,
  type RejectedDecision,
  type RejectedEvent,
} from "./outcomes.ts";
import { readValidationCode } from "./validation.ts";

/** The `aeg-event-type` header values Event Grid sends (FORMATS.md D). */
const DELIVERY_TYPES = { notification: "Notification", validation: "SubscriptionValidation" } as const;

export interface NormalizeEventGridOptions {
  /** The `aeg-event-type` header, when the delivery has one (CloudEvents deliveries may not). */
  readonly deliveryType?: string | undefined;
}

/**
 * Turns one Event Grid webhook delivery into exactly one decision: a validation handshake to
 * answer, one outcome per event (mutation, lifecycle event, ignored, out of scope), or the
 * refusal of the whole delivery. Pure: no I/O, no clock.
 *
 * The body is an array (Event Grid schema, CloudEvents batch) or a single object (CloudEvents).
 * The decisions, in order:
 * 1. shape — not an array or object, or an empty array, is refused;
 * 2. every envelope is checked before any data is read; one malformed event refuses the whole
 *    delivery (400, which Event Grid does not retry). A delivery is all or nothing for Event Grid,
 *    and publishing half of a batch that is then dead-lettered would leave the operator unable to
 *    tell which half reached the bus;
 * 3. a subscription validation event must be alone, and the `aeg-event-type` header, when
 *    present, must agree with the body;
 * 4. each event type decides the rest (event-types.ts): mutation (scoped by the Azure → AWS
 *    rules), lifecycle event (not scoped: the identity-watcher wants every one), or ignore.
 *
 * @see ../../../../../shared/SPEC.md section 2 (ingest), ../../../../../shared/FORMATS.md sections C and D
 */
export function normalizeEventGrid(body: unknown, rules: RuleSet, options: NormalizeEventGridOptions = {}): DeliveryDecision {
  const single = isJsonObject(body);
  if (!single && !Array.isArray(body)) return refuse([rejectedEvent(0, "malformed_body", ["(root): expected a JSON array of events or one event object"])], 0);
  const elements: readonly unknown[] = single ? [body] : (body as unknown[]);
  if (elements.length === 0) return refuse([rejectedEvent(0, "malformed_body", ["(root): expected at least one event"])], 0);
  const at = (index: number): string => (single ? "" : `[${index}].`);

  const events: GridEvent[] = [];
  const refused: RejectedEvent[] = [];
  elements.forEach((element, index) => {
    const parsed = parseEnvelope(element, index, at(index));
    if ("outcome" in parsed) refused.push(parsed);
    else events.push(parsed);
  });
  if (refused.length > 0) return refuse(refused, elements.length);

  const validation = validationHandshake(events, options.deliveryType, at);
  if (validation !== undefined) return validation;

  const outcomes: EventOutcome[] = [];
  events.forEach((event, index) => {
    const outcome = decide(event, index, at(index), rules);
    if (outcome.outcome === "rejected") refused.push(outcome);
    else outcomes.push(outcome);
  });
  return refused.length > 0 ? refuse(refused, elements.length) : { kind: "events", events: outcomes };
}

function validationHandshake(
  events: readonly GridEvent[],
  deliveryType: string | undefined,
  at: (index: number) => string,
): DeliveryDecision | undefined {
  const validationIndexes = events.flatMap((event, index) => (event.eventType === SUBSCRIPTION_VALIDATION_EVENT_TYPE ? [index] : []));
  const announced = deliveryType?.trim().toLowerCase();
  const announcedValidation = announced === DELIVERY_TYPES.validation.toLowerCase();
  if (validationIndexes.length === 0) {
    if (!announcedValidation) return undefined;
    return refuse([rejectedEvent(0, "validation_mismatch", [`(root): aeg-event-type is SubscriptionValidation but no event is a ${SUBSCRIPTION_VALIDATION_EVENT_TYPE}`])], events.length);
  }
  const [first] = validationIndexes;
  if (events.length > 1 || first === undefined) {
    return refuse(
      validationIndexes.map((index) => rejectedEvent(index, "validation_mismatch", [`${at(index)}eventType: a subscription validation event must be alone in its delivery`])),
      events.length,
    );
  }
  if (announced !== undefined && !announcedValidation) {
    return refuse([rejectedEvent(0, "validation_mismatch", [`${at(0)}eventType: a subscription validation event in a delivery announced as ${DELIVERY_TYPES.notification}`])], 1);
  }
  const event = events[first] as GridEvent;
  const issues: string[] = [];
  const validationCode = readValidationCode(event, at(first), issues);
  if (validationCode === undefined) return refuse([rejectedEvent(first, "invalid_data", issues)], 1);
  return { kind: "validation", eventId: event.id, validationCode };
}

function decide(event: GridEvent, index: number, at: string, rules: RuleSet): EventOutcome | RejectedEvent {
  const ref: EventRef = { index, id: event.id, eventType: event.eventType };
  const decision: EventTypeDecision = decisionForEventType(event.eventType);
  if ("ignore" in decision) return { outcome: "ignored", ref, reason: decision.ignore };

  const issues: string[] = [];
  const data = readKeyVaultData(event, decision.objectType, at, issues);
  if (data === undefined) return rejectedEvent(index, "invalid_data", issues);
  try {
    return "mutation" in decision ? mutationFor(event, ref, data, rules) : lifecycleFor(event, ref, data, decision);
  } catch (error) {
    // The readers check every field the schemas constrain; this catches what they could not
    // foresee. The schema's issues are paths and rules, never values.
    if (error instanceof InvalidEventError) return rejectedEvent(index, "schema_violation", error.issues.map((issue) => `${at}${issue}`));
    throw error;
  }
}

function mutationFor(event: GridEvent, ref: EventRef, data: KeyVaultData, rules: RuleSet): EventOutcome {
  const secret = { vaultName: data.vaultName, name: data.objectName ?? "" };
  // The same check every consumer repeats on the mutation (a replicator refuses one out of scope).
  const scope = scopeOfOrigin(rules, { cloud: "azure", vaultName: secret.vaultName, secretName: secret.name });
  if (!scope.inScope) return { outcome: "out_of_scope", ref, reason: scope.reason, secret };
  const mutation = buildMutationEvent({
    id: event.id,
    data: {
      kind: "upsert",
      rule: scope.rule.id,
      destination: { cloud: scope.rule.destination.cloud },
      origin: {
        cloud: "azure",
        vaultName: data.vaultName,
        secretName: secret.name,
        ...(data.version === undefined ? {} : { versionId: data.version }),
      },
      trigger: { source: "azure.eventgrid", eventId: event.id, eventName: event.eventType, eventTime: event.eventTime },
    },
  });
  return { outcome: "mutation", ref, event: mutation };
}

function lifecycleFor(
  event: GridEvent,
  ref: EventRef,
  data: KeyVaultData,
  decision: { readonly lifecycle: LifecycleData["kind"]; readonly objectType: LifecycleData["objectType"] },
): EventOutcome {
  const lifecycle = buildLifecycleEvent({
    kind: decision.lifecycle,
    objectType: decision.objectType,
    vaultName: data.vaultName,
    ...(data.objectName === undefined ? {} : { objectName: data.objectName }),
    ...(data.version === undefined ? {} : { version: data.version }),
    ...(data.notBefore === undefined ? {} : { notBefore: data.notBefore }),
    ...(data.expiresAt === undefined ? {} : { expiresAt: data.expiresAt }),
    trigger: { source: "azure.eventgrid", eventId: event.id, eventName: event.eventType, eventTime: event.eventTime },
  });
  return { outcome: "lifecycle", ref, event: lifecycle };
}

function refuse(rejected: readonly RejectedEvent[], total: number): RejectedDecision {
  const first = rejected[0];
  return {
    kind: "rejected",
    reason: first?.reason ?? "malformed_body",
    issues: rejected.flatMap((event) => event.issues),
    rejected,
    total,
  };
}
