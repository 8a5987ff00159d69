import { randomUUID } from "node:crypto";
import { quarantineOf, readQuarantine, type BusPublisher, type KV, type NatsConnection } from "@credmesh/bus";
import { STREAMS, cellKey, identitySubject, quarantineAuditSubject } from "@credmesh/bus-names";
import {
  buildIdentityEvent,
  encodeQuarantineRecord,
  quarantineAuditRecord,
  type QuarantineRecord,
  type QuarantineTrigger,
} from "@credmesh/events";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { jetstreamManager } from "@nats-io/jetstream";

export interface TransitionRequest {
  reason: string;
  by: string;
  trigger: QuarantineTrigger;
}

export type QuarantineOutcome = "quarantined" | "already_quarantined" | "released" | "not_quarantined";

export interface TransitionResult {
  outcome: QuarantineOutcome;
  /** The cell's record after the request (undefined: never quarantined). */
  record: QuarantineRecord | undefined;
  revision: number;
}

/** Told about every transition after it is stored and announced (the enforcer applies the cloud layers). */
export type QuarantineListener = (cell: string, record: QuarantineRecord) => void;

/**
 * Quarantine and release of a cell (SPEC section 2): the state lives in the JetStream KV bucket
 * `credmesh-quarantine`, one key per cell, which every replicator watches. A transition is a
 * compare-and-set on the key's revision, so concurrent requests make one transition and the other
 * learns it was already done; quarantining twice or releasing a cell that is not quarantined is
 * harmless and says so. Each transition is announced on the bus — an identity event
 * (`credmesh.identity.<cell>.quarantined|released`) and an audit record on
 * `credmesh.audit.quarantine.<cell>` (who, when, why) — with the transition id as message id. The
 * announcement follows the write; {@link announcePending} (at boot) finds a stored transition whose
 * audit record is missing and announces it, so none is lost and none repeated.
 */
export class QuarantineService {
  readonly #kv: KV;
  readonly #nc: NatsConnection;
  readonly #publisher: Pick<BusPublisher, "publishRecord">;
  readonly #metrics: Pick<Metrics, "cellQuarantined" | "identityEvents">;
  readonly #logger: Logger;
  readonly #listeners: QuarantineListener[] = [];
  readonly #now: () => Date;

  constructor(deps: { kv: KV; nc: NatsConnection; publisher: Pick<BusPublisher, "publishRecord">; metrics: Pick<Metrics, "cellQuarantined" | "identityEvents">; logger: Logger; now?: () => Date }) {
    this.#kv = deps.kv;
    this.#nc = deps.nc;
    this.#publisher = deps.publisher;
    this.#metrics = deps.metrics;
    this.#logger = deps.logger;
    this.#now = deps.now ?? (() => new Date());
  }

  onTransition(listener: QuarantineListener): void {
    this.#listeners.push(listener);
  }

  async state(cell: string): Promise<{ record: QuarantineRecord | undefined; revision: number }> {
    return readQuarantine(this.#kv, cell);
  }

  async quarantine(cell: string, request: TransitionRequest): Promise<TransitionResult> {
    return this.#transition(cell, "quarantined", request);
  }

  async release(cell: string, request: Omit<TransitionRequest, "trigger">): Promise<TransitionResult> {
    return this.#transition(cell, "active", { ...request, trigger: { type: "operator" } });
  }

  async #transition(cell: string, target: QuarantineRecord["state"], request: TransitionRequest): Promise<TransitionResult> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const { record, revision } = await readQuarantine(this.#kv, cell);
      const current = record?.state ?? "active";
      if (current === target) {
        this.#metrics.cellQuarantined.set({ cell }, target === "quarantined" ? 1 : 0);
        return { outcome: target === "quarantined" ? "already_quarantined" : "not_quarantined", record, revision };
      }
      const at = this.#now().toISOString();
      const next: QuarantineRecord = {
        cell,
        state: target,
        reason: request.reason,
        by: request.by,
        at,
        trigger: request.trigger,
        transitionId: `${target === "quarantined" ? "quarantine" : "release"}-${randomUUID()}`,
        ...(target === "active" && record ? { quarantinedAt: record.at } : {}),
      };
      let stored: number;
      try {
        stored = record !== undefined && revision > 0 ? await this.#kv.update(cellKey(cell), encodeQuarantineRecord(next), revision) : await this.#kv.create(cellKey(cell), encodeQuarantineRecord(next));
      } catch (error) {
        // Someone else changed the cell between our read and write: read again and decide again.
        this.#logger.debug({ err: error, cell, attempt }, "quarantine state changed concurrently; retrying");
        continue;
      }
      this.#metrics.cellQuarantined.set({ cell }, target === "quarantined" ? 1 : 0);
      this.#logger.warn({ cell, state: target, reason: next.reason, by: next.by, trigger: next.trigger, revision: stored }, target === "quarantined" ? "cell quarantined" : "cell released");
      await this.#announce(next);
      for (const listener of this.#listeners) listener(cell, next);
      return { outcome: target === "quarantined" ? "quarantined" : "released", record: next, revision: stored };
    }
    throw new Error(`the quarantine state of ${cell} kept changing; try again`);
  }

  /** Announces every stored transition whose audit record is not on the bus (a crash between write and announcement). */
  async announcePending(cells: readonly string[]): Promise<void> {
    const jsm = await jetstreamManager(this.#nc);
    const keys = new Set(cells.map(cellKey));
    for await (const key of await this.#kv.keys()) keys.add(key);
    for (const key of keys) {
      let record: QuarantineRecord | undefined;
      try {
        record = quarantineOf(await this.#kv.get(key)).record;
      } catch (error) {
        this.#logger.error({ err: error, key }, "a quarantine record is not valid");
        continue;
      }
      if (!record) continue;
      this.#metrics.cellQuarantined.set({ cell: record.cell }, record.state === "quarantined" ? 1 : 0);
      let last: string | undefined;
      try {
        const message = await jsm.streams.getMessage(STREAMS.audit.name, { last_by_subj: quarantineAuditSubject(record.cell) });
        last = message?.json<{ transitionId?: string }>().transitionId;
      } catch {
        last = undefined;
      }
      if (last !== record.transitionId) {
        this.#logger.warn({ cell: record.cell, transitionId: record.transitionId }, "announcing a transition stored before the last stop");
        await this.#announce(record);
      }
    }
  }

  async #announce(record: QuarantineRecord): Promise<void> {
    const kind = record.state === "quarantined" ? "quarantined" : "released";
    const event = buildIdentityEvent({
      id: record.transitionId,
      producer: "identity-watcher",
      data: { kind, cell: record.cell, reason: record.reason, by: record.by, at: record.at, trigger: record.trigger, transitionId: record.transitionId },
    });
    await this.#publisher.publishRecord(STREAMS.identity.name, identitySubject(record.cell, kind), event, record.transitionId);
    await this.#publisher.publishRecord(STREAMS.audit.name, quarantineAuditSubject(record.cell), quarantineAuditRecord(record), `audit:${record.transitionId}`);
    this.#metrics.identityEvents.inc({ kind });
  }
}
