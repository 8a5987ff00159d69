import { TIMESTAMP, isJsonObject, isTimestamp, own, requiredString, stringField, type JsonObject } from "../json/fields.ts";
import { EVENT_ID, EVENT_TYPE } from "./azure-ids.ts";
import { rejectedEvent, type RejectedEvent } from "./outcomes.ts";

/**
 * One event of a delivery, read from either schema Event Grid delivers: its own (arrays,
 * `eventType`/`eventTime`/`topic`) or CloudEvents 1.0 (`type`/`time`/`source`). Both carry the
 * same Key Vault `data`.
 * @see ../../../../../shared/FORMATS.md sections C and D
 */
export interface GridEvent {
  readonly schema: "eventgrid" | "cloudevents";
  readonly id: string;
  readonly eventType: string;
  readonly eventTime: string;
  /** `topic` (Event Grid schema) or `source` (CloudEvents): the vault's ARM resource id for Key Vault. */
  readonly topic: string | undefined;
  /** The envelope field `topic` came from, for issue paths. */
  readonly topicField: "topic" | "source";
  /** The object name for Key Vault events ("" on validation events). */
  readonly subject: string | undefined;
  readonly data: unknown;
}

/** True when the element claims to be a CloudEvent (then it is judged as one, even half-broken). */
function looksLikeCloudEvent(element: JsonObject): boolean {
  return Object.hasOwn(element, "specversion");
}

function looksLikeEventGridEvent(element: JsonObject): boolean {
  return Object.hasOwn(element, "eventType") || Object.hasOwn(element, "eventTime") || Object.hasOwn(element, "metadataVersion");
}

/**
 * Validates one element's envelope. `at` prefixes every issue path: `[2].` inside a batch, ""
 * for a single CloudEvent object.
 */
export function parseEnvelope(element: unknown, index: number, at: string): GridEvent | RejectedEvent {
  const root = at === "" ? "(root)" : at.slice(0, -1);
  if (!isJsonObject(element)) return rejectedEvent(index, "invalid_event", [`${root}: expected an event object`]);
  if (looksLikeCloudEvent(element)) return parseCloudEvent(element, index, at);
  if (looksLikeEventGridEvent(element)) return parseEventGridEvent(element, index, at);
  return rejectedEvent(index, "invalid_event", [`${root}: expected an Event Grid event (eventType) or a CloudEvent (specversion)`]);
}

function parseEventGridEvent(element: JsonObject, index: number, at: string): GridEvent | RejectedEvent {
  const issues: string[] = [];
  const id = requiredString(element, "id", `${at}id`, issues, EVENT_ID);
  const eventType = requiredString(element, "eventType", `${at}eventType`, issues, EVENT_TYPE);
  const eventTime = requiredTimestamp(element, "eventTime", at, issues);
  const topic = stringField(element, "topic", `${at}topic`, issues);
  const subject = stringField(element, "subject", `${at}subject`, issues);
  stringField(element, "dataVersion", `${at}dataVersion`, issues);
  stringField(element, "metadataVersion", `${at}metadataVersion`, issues);
  if (issues.length > 0 || id === undefined || eventType === undefined || eventTime === undefined) {
    return rejectedEvent(index, "invalid_event", issues);
  }
  return { schema: "eventgrid", id, eventType, eventTime, topic, topicField: "topic", subject, data: own(element, "data") };
}

function parseCloudEvent(element: JsonObject, index: number, at: string): GridEvent | RejectedEvent {
  if (own(element, "specversion") !== "1.0") {
    return rejectedEvent(index, "unsupported_specversion", [`${at}specversion: only "1.0" is supported`]);
  }
  const issues: string[] = [];
  const id = requiredString(element, "id", `${at}id`, issues, EVENT_ID);
  const eventType = requiredString(element, "type", `${at}type`, issues, EVENT_TYPE);
  const source = requiredString(element, "source", `${at}source`, issues);
  // Optional in CloudEvents, but Key Vault always sets it, and the canonical events need it.
  const eventTime = requiredTimestamp(element, "time", at, issues);
  const subject = stringField(element, "subject", `${at}subject`, issues);
  if (Object.hasOwn(element, "data_base64")) issues.push(`${at}data_base64: binary data is not supported; expected JSON data`);
  if (issues.length > 0 || id === undefined || eventType === undefined || eventTime === undefined || source === undefined) {
    return rejectedEvent(index, "invalid_event", issues);
  }
  return { schema: "cloudevents", id, eventType, eventTime, topic: source, topicField: "source", subject, data: own(element, "data") };
}

function requiredTimestamp(element: JsonObject, key: string, at: string, issues: string[]): string | undefined {
  const value = requiredString(element, key, `${at}${key}`, issues, TIMESTAMP);
  if (value !== undefined && !isTimestamp(value)) {
    issues.push(`${at}${key}: expected ${TIMESTAMP.expected}`);
    return undefined;
  }
  return value;
}
