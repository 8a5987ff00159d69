import { createHash } from "node:crypto";
import type { BusPublisher, KV } from "@credmesh/bus";
import { STREAMS, cellKey, identitySubject, tokenDigest } from "@credmesh/bus-names";
import {
  CERTIFICATE_STATES,
  buildIdentityEvent,
  certificateFactsSchema,
  certificateSourceSchema,
  type CertificateEventData,
  type CertificateSource,
  type IdentityEvent,
} from "@credmesh/events";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { z } from "zod";
import type { Judgement } from "./judge.ts";

/** The last judged state of one place, kept in KV so a restart compares against it. */
const placeStateSchema = z.object({
  cell: z.string(),
  place: z.string(),
  source: certificateSourceSchema,
  state: z.enum(CERTIFICATE_STATES),
  thresholdMs: z.number().optional(),
  facts: certificateFactsSchema.optional(),
  renewalAt: z.string().optional(),
  version: z.string().optional(),
  notBefore: z.string().optional(),
  notAfter: z.string().optional(),
  judgedAt: z.string(),
});
export type PlaceState = z.infer<typeof placeStateSchema>;

/** A judgement plus what only vault certificates have (their version, in place of a fingerprint). */
export type Verdict = Judgement & { version?: string; notBefore?: string; notAfter?: string };

/** Called after a transition's events are on the bus (the quarantine policies listen). */
export type TransitionListener = (cell: string, event: IdentityEvent) => Promise<void>;

export interface TrackerDeps {
  kv: KV;
  publisher: Pick<BusPublisher, "publishRecord">;
  metrics: Pick<Metrics, "certState" | "certNotBefore" | "certNotAfter" | "certExpired" | "certRenewalDue" | "identityEvents">;
  logger: Logger;
  onTransition: TransitionListener;
}

/**
 * Turns judgements into state changes: compares each with the last judged state of the place (in
 * JetStream KV, bucket `credmesh-identity-state`), publishes an identity event only when the state
 * changed — never per scan — and keeps the metrics in step. A new fingerprint at the same place is a
 * renewal: a `renewed` event, and the old certificate's series are removed at once.
 *
 * Restarts neither lose nor repeat a transition: the events are published before the new state is
 * written, with ids derived from the place, the transition and the previous KV revision, so a
 * crash in between publishes the same ids again (JetStream keeps one within its duplicate window)
 * and a watcher that restarts after the write finds nothing to announce.
 */
export class CertificateTracker {
  readonly #deps: TrackerDeps;
  /** The x509 series each place exports now, so a renewal or removal can retire them. */
  readonly #series = new Map<string, { x509: Record<string, string>; renewal: Record<string, string> | undefined }>();

  constructor(deps: TrackerDeps) {
    this.#deps = deps;
  }

  /** The state keys of a cell (one per known place). */
  async known(cell: string): Promise<PlaceState[]> {
    const states: PlaceState[] = [];
    const keys = await this.#deps.kv.keys(`cert.${cellKey(cell)}.>`);
    for await (const key of keys) {
      const state = await this.#read(key);
      if (state.value) states.push(state.value);
    }
    return states;
  }

  /** The last judged state of a place. */
  async get(cell: string, place: string): Promise<PlaceState | undefined> {
    return (await this.#read(keyOf(cell, place))).value;
  }

  /** Records a judgement; returns whether it was a transition. */
  async observe(cell: string, place: string, source: CertificateSource, verdict: Verdict, now: Date): Promise<"transition" | "unchanged"> {
    const key = keyOf(cell, place);
    const { value: previous, revision } = await this.#read(key);
    this.#export(cell, place, verdict, now);
    if (previous && same(previous, verdict)) return "unchanged";

    const events = this.#eventsFor(cell, place, source, verdict, previous, revision, now);
    for (const event of events) {
      await this.#deps.publisher.publishRecord(STREAMS.identity.name, identitySubject(cell, event.data.kind), event, event.id);
      this.#deps.metrics.identityEvents.inc({ kind: event.data.kind });
      this.#deps.logger.info({ cell, place, kind: event.data.kind, state: verdict.state, previous: previous?.state, eventId: event.id }, "certificate state changed");
    }
    for (const event of events) await this.#deps.onTransition(cell, event);

    const next: PlaceState = {
      cell,
      place,
      source,
      state: verdict.state,
      ...(verdict.thresholdMs === undefined ? {} : { thresholdMs: verdict.thresholdMs }),
      ...(verdict.facts ? { facts: verdict.facts } : {}),
      ...(verdict.renewalAt ? { renewalAt: verdict.renewalAt.toISOString() } : {}),
      ...(verdict.version ? { version: verdict.version } : {}),
      ...(verdict.notBefore ? { notBefore: verdict.notBefore } : {}),
      ...(verdict.notAfter ? { notAfter: verdict.notAfter } : {}),
      judgedAt: now.toISOString(),
    };
    const bytes = new TextEncoder().encode(JSON.stringify(next));
    try {
      if (revision > 0) await this.#deps.kv.update(key, bytes, revision);
      else await this.#deps.kv.create(key, bytes);
    } catch (error) {
      // Another watcher replica recorded this place meanwhile (it published the same event ids).
      this.#deps.logger.warn({ err: error, cell, place }, "certificate state changed concurrently; keeping the other write");
    }
    return "transition";
  }

  /** Forgets a place that no longer exists (a glob match that went away), after its `absent` event. */
  async forget(cell: string, place: string): Promise<void> {
    await this.#deps.kv.delete(keyOf(cell, place));
    this.#retire(cell, place);
  }

  #eventsFor(cell: string, place: string, source: CertificateSource, verdict: Verdict, previous: PlaceState | undefined, revision: number, now: Date): IdentityEvent[] {
    const identity = verdict.facts?.fingerprint ?? verdict.version;
    const previousIdentity = previous?.facts?.fingerprint ?? previous?.version;
    const renewed = previousIdentity !== undefined && identity !== undefined && identity !== previousIdentity;
    const kinds: CertificateEventData["kind"][] = [];
    if (renewed) kinds.push("renewed");
    const stateChanged = previous === undefined ? verdict.state !== "ok" : previous.state !== verdict.state || previous.thresholdMs !== verdict.thresholdMs;
    if (stateChanged && !(renewed && verdict.state === "ok")) kinds.push(verdict.state);
    const placeId = createHash("sha256").update(`${cell}\n${place}`).digest("hex").slice(0, 16);
    return kinds.map((kind) =>
      buildIdentityEvent({
        id: `cert:${placeId}:${revision}:${kind}:${identity ?? "none"}:${verdict.thresholdMs ?? ""}`,
        producer: "identity-watcher",
        data: {
          kind,
          cell,
          place,
          source,
          state: verdict.state,
          ...(previous ? { previousState: previous.state } : {}),
          ...(verdict.facts ? { certificate: verdict.facts } : {}),
          ...(renewed && previous?.facts ? { previousCertificate: previous.facts } : {}),
          ...(verdict.version ? { version: verdict.version } : {}),
          ...(renewed && previous?.version ? { previousVersion: previous.version } : {}),
          ...(verdict.notAfter ? { notAfter: verdict.notAfter } : {}),
          ...(verdict.renewalAt ? { renewalAt: verdict.renewalAt.toISOString() } : {}),
          ...(verdict.thresholdMs === undefined ? {} : { thresholdSeconds: Math.round(verdict.thresholdMs / 1000) }),
          problems: verdict.problems.slice(0, 16).map((problem) => problem.slice(0, 1024)),
          detectedAt: now.toISOString(),
        },
      }),
    );
  }

  /** Sets the place's series: its state, and its certificate's x509 series (retiring a replaced certificate's). */
  #export(cell: string, place: string, verdict: Verdict, now: Date): void {
    const { metrics } = this.#deps;
    for (const state of CERTIFICATE_STATES) {
      if (state === verdict.state) metrics.certState.set({ cell, filepath: place, state }, 1);
      else metrics.certState.remove({ cell, filepath: place, state });
    }
    const notAfter = verdict.facts?.notAfter ?? verdict.notAfter;
    const serial = verdict.facts?.serialNumber ?? verdict.version;
    if (notAfter === undefined || serial === undefined) {
      this.#retireX509(place);
      return;
    }
    const x509 = {
      cell,
      filepath: place,
      subject_CN: verdict.facts?.subjectCN ?? "",
      issuer_CN: verdict.facts?.issuerCN ?? "",
      serial_number: serial,
    };
    const renewal = verdict.renewalAt ? { cell, filepath: place, serial_number: serial } : undefined;
    const current = this.#series.get(place);
    if (current && JSON.stringify(current.x509) !== JSON.stringify(x509)) this.#retireX509(place);
    const notBefore = verdict.facts?.notBefore ?? verdict.notBefore;
    if (notBefore !== undefined) metrics.certNotBefore.set(x509, Date.parse(notBefore) / 1000);
    metrics.certNotAfter.set(x509, Date.parse(notAfter) / 1000);
    metrics.certExpired.set(x509, now.getTime() > Date.parse(notAfter) ? 1 : 0);
    if (renewal && verdict.renewalAt) metrics.certRenewalDue.set(renewal, verdict.renewalAt.getTime() / 1000);
    this.#series.set(place, { x509, renewal });
  }

  #retire(cell: string, place: string): void {
    for (const state of CERTIFICATE_STATES) this.#deps.metrics.certState.remove({ cell, filepath: place, state });
    this.#retireX509(place);
  }

  #retireX509(place: string): void {
    const current = this.#series.get(place);
    if (!current) return;
    const { metrics } = this.#deps;
    metrics.certNotBefore.remove(current.x509);
    metrics.certNotAfter.remove(current.x509);
    metrics.certExpired.remove(current.x509);
    if (current.renewal) metrics.certRenewalDue.remove(current.renewal);
    this.#series.delete(place);
  }

  async #read(key: string): Promise<{ value: PlaceState | undefined; revision: number }> {
    const entry = await this.#deps.kv.get(key);
    if (!entry) return { value: undefined, revision: 0 };
    if (entry.operation !== "PUT") return { value: undefined, revision: entry.revision };
    const parsed = placeStateSchema.safeParse(entry.json());
    if (!parsed.success) {
      this.#deps.logger.warn({ key }, "stored certificate state is not valid; judging afresh");
      return { value: undefined, revision: entry.revision };
    }
    return { value: parsed.data, revision: entry.revision };
  }
}

function keyOf(cell: string, place: string): string {
  return `cert.${cellKey(cell)}.${tokenDigest(place)}`;
}

function same(previous: PlaceState, verdict: Verdict): boolean {
  return (
    previous.state === verdict.state &&
    previous.thresholdMs === verdict.thresholdMs &&
    (previous.facts?.fingerprint ?? previous.version) === (verdict.facts?.fingerprint ?? verdict.version)
  );
}
