import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import type { Subscription } from "@nats-io/transport-node";
import { cloudTrailEvent } from "../../../test/support/eventbridge.ts";
import { secretNewVersionCreated } from "../../../test/support/eventgrid.ts";
import { ACCOUNT, AWS_PREFIX, AZURE_PREFIX, REGION, SOURCE_VAULT, type BenchMesh } from "./mesh.ts";

/** A replication direction, named by its source cloud. */
export type Direction = "aws-to-azure" | "azure-to-aws";

export const DIRECTIONS: readonly Direction[] = ["aws-to-azure", "azure-to-aws"];

/** One decision of a replicator, as its audit record said, and when the bench received it. */
export interface Audited {
  decision: string;
  /** performance.now() when the record arrived. */
  receivedAt: number;
  destinationName: string;
}

/**
 * Every audit record on `credmesh.audit.>`, by the mutation's event id (the sender's event id):
 * the bench's "destination write done" signal — a replicator publishes it right after the write.
 */
export class AuditWatch {
  readonly #records = new Map<string, Audited>();
  readonly #waiters = new Map<string, Array<(audited: Audited) => void>>();
  readonly #subscription: Subscription;

  constructor(mesh: BenchMesh) {
    this.#subscription = mesh.bus.subscribe("credmesh.audit.>", {
      callback: (_error, message) => {
        const receivedAt = performance.now();
        const record = JSON.parse(new TextDecoder().decode(message.data)) as { decision: string; eventId: string; destination?: { name?: string } };
        const audited = { decision: record.decision, receivedAt, destinationName: record.destination?.name ?? "" };
        this.#records.set(record.eventId, audited);
        for (const resolve of this.#waiters.get(record.eventId) ?? []) resolve(audited);
        this.#waiters.delete(record.eventId);
      },
    });
  }

  get(eventId: string): Audited | undefined {
    return this.#records.get(eventId);
  }

  /** The audit record of `eventId`, or undefined when none arrives before `signal` aborts. */
  wait(eventId: string, signal: AbortSignal): Promise<Audited | undefined> {
    const seen = this.#records.get(eventId);
    if (seen || signal.aborted) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const waiters = this.#waiters.get(eventId) ?? [];
      waiters.push(resolve);
      this.#waiters.set(eventId, waiters);
      signal.addEventListener("abort", () => resolve(undefined), { once: true });
    });
  }

  stop(): void {
    this.#subscription.unsubscribe();
  }
}

/** A secret at its source, as the bench created it. */
export interface SourceSecret {
  name: string;
  /** AWS: the ARN. Azure: the name. */
  id: string;
  /** The latest version the bench wrote. */
  version: string;
  /** Its value (random, never printed): what the replica must end up holding. */
  value: string;
}

/** A value nobody could guess, different every time. */
function freshValue(): string {
  return `bench-${randomBytes(12).toString("hex")}`;
}

/** Creates a source secret in the direction's source cloud (no event sent). */
export async function createSource(mesh: BenchMesh, direction: Direction, name: string): Promise<SourceSecret> {
  const value = freshValue();
  if (direction === "aws-to-azure") {
    const created = await mesh.sm.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    return { name, id: created.ARN ?? "", version: created.VersionId ?? "", value };
  }
  const set = await mesh.kv.setSecret(name, value);
  return { name, id: name, version: set.properties.version ?? "", value };
}

/** Writes a new version of a source secret (no event sent); returns the version. */
export async function changeSource(mesh: BenchMesh, direction: Direction, secret: SourceSecret): Promise<string> {
  const value = freshValue();
  if (direction === "aws-to-azure") {
    const put = await mesh.sm.send(new PutSecretValueCommand({ SecretId: secret.id, SecretString: value }));
    secret.version = put.VersionId ?? "";
  } else {
    secret.version = (await mesh.kv.setSecret(secret.name, value)).properties.version ?? "";
  }
  secret.value = value;
  return secret.version;
}

/**
 * Sends the source cloud's own change event for the secret's current version to ingest, as
 * EventBridge (PutSecretValue / CreateSecret) or Event Grid (SecretNewVersionCreated) would, and
 * returns the event id. Throws unless ingest stored it.
 */
export async function announce(mesh: BenchMesh, direction: Direction, secret: SourceSecret, created = false): Promise<string> {
  if (direction === "aws-to-azure") {
    const fixture = created ? "aws-cloudtrail-createsecret.json" : "aws-cloudtrail-putsecretvalue.json";
    const event = cloudTrailEvent(fixture, { arn: secret.id, name: secret.name, account: ACCOUNT, region: REGION }, { versionId: secret.version });
    await post(`${mesh.ingestUrl}/webhooks/eventbridge`, { "x-api-key": mesh.apiKey, "user-agent": "Amazon/EventBridge/ApiDestinations" }, event, 202);
    return String(event.id);
  }
  const events = secretNewVersionCreated(SOURCE_VAULT, secret.name, secret.version);
  await post(`${mesh.ingestUrl}/webhooks/eventgrid`, { authorization: mesh.eventGridKey, "aeg-event-type": "Notification" }, events, 200);
  return String(events[0]?.id);
}

async function post(url: string, headers: Record<string, string>, body: unknown, expected: number): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  await response.body?.cancel();
  if (response.status !== expected) throw new Error(`ingest answered ${response.status} to ${url}`);
}

/** Source names of a pool: `aws2az/bench-<tag>-0007` or `az2aws-bench-<tag>-0007`. */
export function poolNames(direction: Direction, tag: string, size: number): string[] {
  const prefix = direction === "aws-to-azure" ? `${AWS_PREFIX}bench-${tag}-` : `${AZURE_PREFIX}bench-${tag}-`;
  return Array.from({ length: size }, (_, index) => `${prefix}${String(index).padStart(5, "0")}`);
}

/**
 * Creates `names` at the source and lets credmesh replicate each once, `concurrency` at a time,
 * so that the measurement that follows updates secrets credmesh already owns (its steady state).
 * Returns the secrets with the destination name of each replica.
 */
export async function seedReplicated(
  mesh: BenchMesh,
  watch: AuditWatch,
  direction: Direction,
  names: readonly string[],
  signal: AbortSignal,
  concurrency = 8,
): Promise<Array<SourceSecret & { replica: string }>> {
  const seeded: Array<SourceSecret & { replica: string }> = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next++] ?? "";
      const secret = await createSource(mesh, direction, name);
      const eventId = await announce(mesh, direction, secret, true);
      const audited = await watch.wait(eventId, AbortSignal.any([signal, AbortSignal.timeout(120_000)]));
      if (audited?.decision !== "applied") throw new Error(`seeding ${name}: the replicator decided ${audited?.decision ?? "nothing within 120 s"}`);
      seeded.push({ ...secret, replica: audited.destinationName });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return seeded;
}

/**
 * Whether every replica holds its source's latest value, read from the destination itself: the
 * convergence check after a run (what an application reading the replica would get).
 */
export async function converged(mesh: BenchMesh, direction: Direction, secrets: ReadonlyArray<SourceSecret & { replica: string }>): Promise<{ checked: number; behind: number }> {
  let behind = 0;
  for (const secret of secrets) {
    const value =
      direction === "aws-to-azure"
        ? (await mesh.kv.getSecret(secret.replica)).value
        : (await mesh.sm.send(new GetSecretValueCommand({ SecretId: secret.replica }))).SecretString;
    if (value !== secret.value) behind++;
  }
  return { checked: secrets.length, behind };
}
