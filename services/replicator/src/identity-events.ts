import { randomUUID } from "node:crypto";
import type { BusPublisher } from "@credmesh/bus";
import { STREAMS, identitySubject } from "@credmesh/bus-names";
import { buildIdentityEvent, type IdentityEvent, type IdentityEventData } from "@credmesh/events";
import type { ClockSkewObservation } from "@credmesh/identity";
import type { Logger } from "@credmesh/logging";

/** A cloud call of the cell that the cloud refused as not allowed. Identifiers only. */
export interface AccessDeniedObservation {
  cloud: "aws" | "azure";
  operation: string;
  code?: string;
}

/**
 * Publishes the cell's identity observations on `credmesh.identity.<cell>.<kind>` (stream
 * CREDMESH_IDENTITY) for the identity-watcher, which may quarantine the cell (SPEC section 2):
 * clock skew refusals and access denied by a cloud. Events are built by @credmesh/events from
 * identifiers and times only.
 *
 * A failing credential source is tried again for every mutation, so clock skew events are limited
 * to one per source per `minIntervalMs` (default one minute), and the message id repeats within that
 * minute so JetStream keeps one even across replicas. Access denied events are each their own (the
 * watcher counts them), at most `maxAccessDeniedPerInterval` per cloud and interval. Until a
 * publisher is attached (the bus opens after the credentials are built), events are only logged.
 * Publishing never blocks or fails the caller.
 */
export class IdentityEventSink {
  readonly #cell: string;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #minIntervalMs: number;
  readonly #maxAccessDenied: number;
  readonly #last = new Map<string, number>();
  readonly #denied = new Map<string, { window: number; count: number }>();
  #publisher: Pick<BusPublisher, "publishRecord"> | undefined;

  constructor(cell: string, logger: Logger, options: { now?: () => number; minIntervalMs?: number; maxAccessDeniedPerInterval?: number } = {}) {
    this.#cell = cell;
    this.#logger = logger;
    this.#now = options.now ?? Date.now;
    this.#minIntervalMs = options.minIntervalMs ?? 60_000;
    this.#maxAccessDenied = options.maxAccessDeniedPerInterval ?? 60;
  }

  /** Starts publishing on the bus. */
  attach(publisher: Pick<BusPublisher, "publishRecord">): void {
    this.#publisher = publisher;
  }

  /** Reports a clock skew refusal. */
  clockSkew(observation: ClockSkewObservation): void {
    const now = this.#now();
    const key = `clock_skew:${observation.source}`;
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#minIntervalMs) return;
    this.#last.set(key, now);
    const id = `${this.#cell}:${key}:${Math.floor(now / Math.max(1, this.#minIntervalMs))}`;
    this.#publish(id, {
      kind: "clock_skew",
      cell: this.#cell,
      credentialSource: observation.source,
      claim: observation.claim,
      claimedAt: observation.claimedAt.toISOString(),
      observedAt: observation.observedAt.toISOString(),
      offsetSeconds: observation.offsetSeconds,
      toleranceSeconds: observation.toleranceSeconds,
      action: "refused",
    });
  }

  /** Reports a cloud call refused as access denied. */
  accessDenied(observation: AccessDeniedObservation): void {
    const now = this.#now();
    const window = Math.floor(now / Math.max(1, this.#minIntervalMs));
    const seen = this.#denied.get(observation.cloud);
    const count = seen?.window === window ? seen.count + 1 : 1;
    this.#denied.set(observation.cloud, { window, count });
    if (count > this.#maxAccessDenied) return;
    this.#publish(randomUUID(), {
      kind: "access_denied",
      cell: this.#cell,
      cloud: observation.cloud,
      operation: observation.operation,
      ...(observation.code ? { code: observation.code.slice(0, 128) } : {}),
      observedAt: new Date(now).toISOString(),
    });
  }

  #publish(id: string, data: IdentityEventData): void {
    let event: IdentityEvent;
    try {
      event = buildIdentityEvent({ id, producer: "replicator", data });
    } catch (error) {
      this.#logger.error({ err: error, kind: data.kind }, "identity event not built");
      return;
    }
    const subject = identitySubject(this.#cell, data.kind);
    const publisher = this.#publisher;
    if (!publisher) {
      this.#logger.warn({ subject, event: event.data }, "identity event not published: the bus is not attached yet");
      return;
    }
    publisher.publishRecord(STREAMS.identity.name, subject, event, id).then(
      () => this.#logger.info({ subject, kind: data.kind }, "identity event published"),
      (error: unknown) => this.#logger.error({ err: error, subject }, "identity event not published"),
    );
  }
}
