import { randomBytes, randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { jetstreamManager, type StoredMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { readFixture } from "../../support/fixtures.ts";
import { AWS_ACCOUNT, AWS_REGION, IN_SCOPE_PREFIX, RULE_ID } from "./ingest.ts";

/**
 * Event Grid deliveries as Azure sends them (FORMATS.md C and D), built from the shared fixtures
 * with fresh ids and versions, and readers of what they leave on the bus.
 */

export type Json = Record<string, unknown>;
export type GridEvent = Json & { id: string; data: Json };

/** The vault of the fixtures; the Azure → AWS rule covers names starting with "db-" in it. */
export const VAULT = "kv-payments-prod";
export const AZURE_RULE_ID = "payments-from-azure";

/** Both directions, as an operator running bidirectional replication would write them. */
export async function writeEventGridRules(dir: string): Promise<string> {
  const file = join(dir, "eventgrid-rules.yaml");
  await writeFile(
    file,
    [
      "rules:",
      `  - id: ${RULE_ID}`,
      "    source:",
      "      cloud: aws",
      `      accounts: ["${AWS_ACCOUNT}"]`,
      `      regions: ["${AWS_REGION}"]`,
      `      namePrefixes: ["${IN_SCOPE_PREFIX}"]`,
      "    destination:",
      "      cloud: azure",
      "      vaultUrl: https://credmesh-it.vault.azure.net",
      `  - id: ${AZURE_RULE_ID}`,
      "    source:",
      "      cloud: azure",
      `      vaults: ["${VAULT}"]`,
      '      namePrefixes: ["db-"]',
      "    destination:",
      "      cloud: aws",
      `      account: "${AWS_ACCOUNT}"`,
      `      region: "${AWS_REGION}"`,
      "",
    ].join("\n"),
  );
  return file;
}

const version = (): string => randomBytes(16).toString("hex");

/**
 * The events of an Event Grid schema fixture with fresh ids (and, for secret, key and
 * certificate events, fresh versions), so that each test starts outside the dedupe window.
 * `name` renames the object (data, subject and Id alike).
 */
export function gridEvents(fixture: string, options: { name?: string } = {}): GridEvent[] {
  return readFixture<GridEvent[]>(fixture).map((event) => {
    const fresh: GridEvent = { ...structuredClone(event), id: randomUUID() };
    const data = fresh.data;
    if (typeof data["Version"] === "string") {
      const next = version();
      data["Id"] = (data["Id"] as string).replace(data["Version"], next);
      data["Version"] = next;
    }
    if (options.name !== undefined && data["ObjectType"] !== "Vault") {
      data["Id"] = (data["Id"] as string).replace(`/${data["ObjectName"] as string}/`, `/${options.name}/`);
      data["ObjectName"] = options.name;
      fresh.subject = options.name;
    }
    return fresh;
  });
}

/** The one event of a single-event fixture, fresh. */
export function gridEvent(fixture: string, options: { name?: string } = {}): GridEvent {
  const [event] = gridEvents(fixture, options);
  if (!event) throw new Error(`${fixture} has no event`);
  return event;
}

/** The same event in the CloudEvents 1.0 schema, as azure-cloudevents-secretnewversioncreated.json shows it. */
export function asCloudEvent(event: GridEvent): Json {
  return {
    specversion: "1.0",
    type: event.eventType,
    source: event.topic,
    subject: event.subject,
    id: event.id,
    time: event.eventTime,
    data: event.data,
  };
}

export interface EventGridDelivery {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, when it is JSON. */
  body: Json | undefined;
}

export interface EventGridDeliveryOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Event Grid schema by default. */
  contentType?: string;
  /** `Authorization: Bearer <token>`. */
  token?: string;
}

/** One HTTP exchange with ingest's Event Grid webhook, with the headers Event Grid sends (FORMATS.md D). */
export async function deliverEventGrid(baseUrl: string, options: EventGridDeliveryOptions = {}): Promise<EventGridDelivery> {
  const method = options.method ?? "POST";
  const headers: Record<string, string> = method === "POST"
    ? {
        "content-type": options.contentType ?? "application/json; charset=utf-8",
        "aeg-event-type": "Notification",
        "aeg-subscription-name": "SECRET-REPLICATOR",
        "aeg-delivery-count": "0",
        "aeg-data-version": "1",
        "aeg-metadata-version": "1",
      }
    : {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${baseUrl}/webhooks/eventgrid`, {
    method,
    headers: { ...headers, ...options.headers },
    ...(options.body === undefined ? {} : { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) }),
    // Event Grid waits 30 s for an answer (ingest holds a delivery up to its 25 s publish window).
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let body: Json | undefined;
  try {
    body = text === "" ? undefined : (JSON.parse(text) as Json);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body };
}

/** Every message stored in a stream, in order. */
export async function streamMessages(nc: NatsConnection, stream: string): Promise<StoredMsg[]> {
  const jsm = await jetstreamManager(nc);
  const { first_seq: first, last_seq: last, messages } = (await jsm.streams.info(stream)).state;
  const out: StoredMsg[] = [];
  if (messages === 0) return out;
  for (let seq = first; seq <= last; seq++) {
    const message = await jsm.streams.getMessage(stream, { seq });
    if (message) out.push(message);
  }
  return out;
}

export async function streamCount(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(stream)).state.messages;
}

/** The stored message whose Nats-Msg-Id is `id`, and how many there are. */
export async function storedById(nc: NatsConnection, stream: string, id: string): Promise<StoredMsg[]> {
  return (await streamMessages(nc, stream)).filter((message) => message.header.get("Nats-Msg-Id") === id);
}
