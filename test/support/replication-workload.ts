import { randomBytes } from "node:crypto";
import { CreateSecretCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { STREAMS, replicatorDurable } from "@credmesh/bus-names";
import { parsePrometheusText, type Scrape } from "../integration/support/prometheus-text.ts";
import type { AuditRecord } from "@credmesh/events";
import type { BusTap } from "./bus-tap.ts";
import { cloudTrailEvent } from "./eventbridge.ts";
import { AWS_ACCOUNT, AWS_REGION, type Mesh } from "./mesh.ts";

/**
 * A replication workload for the reliability tests: many secrets, several changes each, made in
 * moto and announced by their EventBridge events, interleaved across secrets; and the views a test
 * needs afterwards (audit records per secret, replica versions, metrics).
 */
export interface SecretHistory {
  name: string;
  arn: string;
  /** Origin version ids in creation order. */
  versions: string[];
  /** Values in creation order (test-only random strings). */
  values: string[];
  /** CloudEvent ids (EventBridge event ids) of the announcements, in order. */
  eventIds: string[];
}

export interface WorkloadOptions {
  /** Name prefix in scope of the mesh's rule, e.g. `chaos/`. */
  prefix: string;
  secrets: number;
  /** Changes per secret: a CreateSecret, then PutSecretValue. */
  changes: number;
  /** Changes in flight at once, across secrets. */
  concurrency: number;
  /** Called after each event was accepted by ingest. */
  onPosted?: (posted: number) => void;
}

/** Audit records as the replicator publishes them (@credmesh/events' schema). */
export type { AuditRecord } from "@credmesh/events";

/** Posts an EventBridge delivery to ingest and insists on 202. */
export async function postEventBridge(mesh: Mesh, body: unknown): Promise<void> {
  const response = await fetch(`${mesh.ingestUrl}/webhooks/eventbridge`, {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8", "user-agent": "Amazon/EventBridge/ApiDestinations", [mesh.apiKeyHeader]: mesh.apiKey },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 202) throw new Error(`ingest answered ${response.status}: ${text}`);
}

/**
 * Runs the workload: every change is made in moto first, then its event is posted. The changes of
 * one secret happen one after another; a finished change sends the secret's next change to the
 * back of the queue, so secrets interleave.
 */
export async function runWorkload(mesh: Mesh, options: WorkloadOptions): Promise<SecretHistory[]> {
  const histories: SecretHistory[] = Array.from({ length: options.secrets }, (_, index) => ({
    name: `${options.prefix}s${String(index).padStart(4, "0")}/${randomBytes(3).toString("hex")}`,
    arn: "",
    versions: [],
    values: [],
    eventIds: [],
  }));
  const queue = histories.map((_, index) => index);
  let posted = 0;
  const change = async (history: SecretHistory): Promise<void> => {
    const value = `chaos-${randomBytes(12).toString("base64url")}`;
    let versionId: string;
    let fixture: string;
    if (history.versions.length === 0) {
      const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: history.name, SecretString: value }));
      history.arn = created.ARN ?? "";
      versionId = created.VersionId ?? "";
      fixture = "aws-cloudtrail-createsecret.json";
    } else {
      const put = await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: history.arn, SecretString: value }));
      versionId = put.VersionId ?? "";
      fixture = "aws-cloudtrail-putsecretvalue.json";
    }
    history.versions.push(versionId);
    history.values.push(value);
    const event = cloudTrailEvent(fixture, { arn: history.arn, name: history.name, account: AWS_ACCOUNT, region: AWS_REGION }, { versionId });
    history.eventIds.push(event.id as string);
    await postEventBridge(mesh, event);
    options.onPosted?.(++posted);
  };
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const history = histories[next] as SecretHistory;
      await change(history);
      if (history.versions.length < options.changes) queue.push(next);
    }
  };
  // A worker that finds the queue empty stops; the one finishing a secret's change requeues it
  // and carries on, so the queue is always drained.
  await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
  return histories;
}

/** Audit records seen by a tap on `credmesh.audit.>`, in arrival order. */
export function auditRecords(tap: BusTap): AuditRecord[] {
  return tap.auditRecords();
}

/** Waits until every event id has at least one audit record. */
export async function waitForAudits(tap: BusTap, eventIds: readonly string[], timeoutMs: number, onProgress?: (done: number) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = new Set(auditRecords(tap).map((record) => record.eventId));
    const done = eventIds.filter((id) => seen.has(id)).length;
    onProgress?.(done);
    if (done === eventIds.length) return;
    if (Date.now() > deadline) throw new Error(`audit records for ${done} of ${eventIds.length} events within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Waits until the destination's durable consumers have nothing pending or unacknowledged. */
export async function waitForDrain(bus: NatsConnection, destination: "azure" | "aws", timeoutMs: number): Promise<void> {
  const jsm = await jetstreamManager(bus);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let busy = 0;
    for await (const info of jsm.consumers.list(STREAMS.mutations.name)) {
      if (info.name.startsWith(replicatorDurable(destination))) busy += info.num_pending + info.num_ack_pending;
    }
    if (busy === 0) return;
    if (Date.now() > deadline) throw new Error(`${busy} mutations still pending after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Messages in the dead-letter stream. */
export async function deadLetterCount(bus: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(bus);
  return (await jsm.streams.info(STREAMS.deadLetters.name)).state.messages;
}

export async function scrape(url: string): Promise<Scrape> {
  return parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
}

/** Sum of a metric's samples whose labels include `labels`. */
export function metricSum(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  return scrape
    .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

/** Versions of a Key Vault secret as listed (metadata only), with the origin version each carries. */
export async function replicaVersions(mesh: Mesh, name: string): Promise<Array<{ version: string; originVersion: string | undefined }>> {
  const versions: Array<{ version: string; originVersion: string | undefined }> = [];
  for await (const properties of mesh.keyVaultClient.listPropertiesOfSecretVersions(name)) {
    versions.push({ version: properties.version ?? "", originVersion: properties.tags?.["credmesh-origin-version"] });
  }
  return versions;
}
