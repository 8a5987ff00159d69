import type { JsMsg } from "@credmesh/bus";
import { OBSERVATION_KINDS, identitySubject, lifecycleSubject } from "@credmesh/bus-names";
import { CredmeshError } from "@credmesh/errors";
import { decodeIdentityEvent, decodeLifecycleEvent, InvalidEventError, type IdentityEvent, type LifecycleEvent } from "@credmesh/events";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import type { CellConfig } from "./cells.ts";
import type { CertificateTracker } from "./certificates/tracker.ts";
import { cellOfVaultCertificate, factsFromLifecycle, judgeVaultCertificate, vaultPlace } from "./certificates/vault-certificates.ts";
import type { PolicyEngine } from "./policies.ts";

type Counted = Pick<Metrics, "identityObservations">;

/**
 * The watcher re-checks every message it consumes before acting on it (README "Security model"):
 * a message that cannot be decoded, or whose subject says something else than its body (a
 * forgery: NATS permissions bind a publisher to subjects, not to bodies), is refused with a
 * permanent error, which dead-letters it (main.ts) — counted, never acted on. A valid message
 * about something this watcher is not configured for is counted `out_of_scope` and logged.
 */
function refuse(metrics: Counted, kind: string, outcome: "invalid" | "out_of_scope", reason: "invalid_event" | "out_of_scope", message: string): never {
  metrics.identityObservations.inc({ kind, outcome });
  throw new CredmeshError(reason, message);
}

function decodeLifecycle(msg: JsMsg, metrics: Counted): LifecycleEvent {
  let event: LifecycleEvent;
  try {
    event = decodeLifecycleEvent(msg.data);
  } catch (error) {
    const issues = error instanceof InvalidEventError ? error.issues.join("; ") : "undecodable";
    return refuse(metrics, "lifecycle", "invalid", "invalid_event", `message ${msg.seq} on ${msg.subject} is not a valid lifecycle event: ${issues}`);
  }
  const expected = lifecycleSubject(event.data.objectType, event.data.kind);
  if (msg.subject !== expected) {
    return refuse(metrics, "lifecycle", "invalid", "out_of_scope", `lifecycle event ${event.id} arrived on ${msg.subject} but says ${expected}`);
  }
  return event;
}

/**
 * A Key Vault certificate lifecycle event (CertificateNewVersionCreated / NearExpiry / Expired, as
 * ingest normalised it): judged like a file certificate and recorded by the tracker, which
 * publishes a transition only when the state changed — so a redelivered or repeated event changes
 * nothing. ingest publishes every vault's lifecycle events (they are not scoped by rules), so one
 * about a certificate no cell lists is expected: counted `out_of_scope`, acknowledged. A failure
 * to reach KV or the bus throws, so the message is redelivered.
 */
export function lifecycleHandler(deps: { cells: readonly CellConfig[]; tracker: CertificateTracker; metrics: Counted; logger: Logger; now?: () => number }) {
  return {
    keyOf(msg: JsMsg): string {
      return msg.subject;
    },
    async handle(msg: JsMsg): Promise<void> {
      const event = decodeLifecycle(msg, deps.metrics);
      const { vaultName, objectName } = event.data;
      const cell = objectName === undefined ? undefined : cellOfVaultCertificate(deps.cells, vaultName, objectName);
      if (event.data.objectType !== "certificate" || cell === undefined || objectName === undefined) {
        deps.metrics.identityObservations.inc({ kind: "lifecycle", outcome: "out_of_scope" });
        deps.logger.debug({ eventId: event.id, vault: vaultName, object: objectName, objectType: event.data.objectType }, "lifecycle event about a certificate no cell lists; skipped");
        return;
      }
      const place = vaultPlace(vaultName, objectName);
      const previous = await deps.tracker.get(cell.id, place);
      // A near-expiry or expired event about a version that is no longer the current one arrived
      // late (Event Grid retries for a day): it says nothing about the certificate in use.
      if (event.data.kind !== "new_version" && previous?.version !== undefined && event.data.version !== undefined && event.data.version !== previous.version) {
        deps.metrics.identityObservations.inc({ kind: "lifecycle", outcome: "stale" });
        return;
      }
      const now = (deps.now ?? Date.now)();
      const verdict = judgeVaultCertificate(factsFromLifecycle(event, previous), now);
      const outcome = await deps.tracker.observe(cell.id, place, { type: "vault", vault: vaultName.toLowerCase(), name: objectName.toLowerCase() }, verdict, new Date(now));
      deps.metrics.identityObservations.inc({ kind: "lifecycle", outcome });
    },
  };
}

/**
 * An observation of a replicator, checked against its subject: its kind must be an observation
 * kind, and the cell in the subject — the only one the publishing replicator's bus identity may
 * publish for — must be the cell the body names. Otherwise one cell could report access denied
 * "for" another and get it quarantined.
 */
function checkObservation(msg: JsMsg, event: IdentityEvent, metrics: Counted): void {
  const kind = event.data.kind;
  if (!(OBSERVATION_KINDS as readonly string[]).includes(kind)) {
    refuse(metrics, kind, "invalid", "out_of_scope", `identity event ${event.id} of kind ${kind} is not a replicator's observation`);
  }
  const expected = identitySubject(event.data.cell, kind);
  if (msg.subject !== expected) {
    refuse(metrics, kind, "invalid", "out_of_scope", `observation ${event.id} about cell ${event.data.cell} arrived on ${msg.subject}, not on ${expected}`);
  }
}

/**
 * The replicators' observations (clock_skew, access_denied), re-checked (checkObservation), then
 * handed to the policies. An observation about a cell the cells file does not list is counted
 * `out_of_scope` (the policies have nothing to apply to it). Keyed by cell.
 */
export function observationHandler(deps: { policies: PolicyEngine; knownCells: ReadonlySet<string>; metrics: Counted; logger: Logger }) {
  const decoded = new WeakMap<JsMsg, IdentityEvent | null>();
  const decode = (msg: JsMsg): IdentityEvent | null => {
    if (!decoded.has(msg)) {
      try {
        decoded.set(msg, decodeIdentityEvent(msg.data));
      } catch {
        decoded.set(msg, null);
      }
    }
    return decoded.get(msg) ?? null;
  };
  return {
    keyOf(msg: JsMsg): string {
      return decode(msg)?.data.cell ?? `seq:${msg.seq}`;
    },
    async handle(msg: JsMsg): Promise<void> {
      const event = decode(msg);
      if (!event) return refuse(deps.metrics, msg.subject.split(".").at(-1) ?? "unknown", "invalid", "invalid_event", `message ${msg.seq} on ${msg.subject} is not a valid identity event`);
      checkObservation(msg, event, deps.metrics);
      if (!deps.knownCells.has(event.data.cell)) {
        deps.metrics.identityObservations.inc({ kind: event.data.kind, outcome: "out_of_scope" });
        deps.logger.info({ eventId: event.id, cell: event.data.cell, kind: event.data.kind }, "observation about a cell the cells file does not list; skipped");
        return;
      }
      const outcome = await deps.policies.onObservation(event);
      deps.metrics.identityObservations.inc({ kind: event.data.kind, outcome });
    },
  };
}
