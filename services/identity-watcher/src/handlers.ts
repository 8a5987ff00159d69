import type { JsMsg } from "@credmesh/bus";
import { decodeIdentityEvent, decodeLifecycleEvent, InvalidEventError } from "@credmesh/events";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import type { CellConfig } from "./cells.ts";
import type { CertificateTracker } from "./certificates/tracker.ts";
import { cellOfVaultCertificate, factsFromLifecycle, judgeVaultCertificate, vaultPlace } from "./certificates/vault-certificates.ts";
import type { PolicyEngine } from "./policies.ts";

type Counted = Pick<Metrics, "identityObservations">;

/**
 * A Key Vault certificate lifecycle event (CertificateNewVersionCreated / NearExpiry / Expired, as
 * ingest normalised it): judged like a file certificate and recorded by the tracker, which
 * publishes a transition only when the state changed — so a redelivered or repeated event changes
 * nothing. Invalid events are counted and acknowledged (they can never become valid); a failure to
 * reach KV or the bus throws, so the message is redelivered.
 */
export function lifecycleHandler(deps: { cells: readonly CellConfig[]; tracker: CertificateTracker; metrics: Counted; logger: Logger; now?: () => number }) {
  return {
    keyOf(msg: JsMsg): string {
      return msg.subject;
    },
    async handle(msg: JsMsg): Promise<void> {
      let event;
      try {
        event = decodeLifecycleEvent(msg.data);
      } catch (error) {
        deps.metrics.identityObservations.inc({ kind: "lifecycle", outcome: "invalid" });
        deps.logger.warn({ seq: msg.seq, issues: error instanceof InvalidEventError ? error.issues : undefined }, "lifecycle event is not valid; skipped");
        return;
      }
      const { vaultName, objectName } = event.data;
      const cell = objectName === undefined ? undefined : cellOfVaultCertificate(deps.cells, vaultName, objectName);
      if (event.data.objectType !== "certificate" || cell === undefined || objectName === undefined) {
        deps.metrics.identityObservations.inc({ kind: "lifecycle", outcome: "ignored" });
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

/** The replicators' observations (clock_skew, access_denied), handed to the policies. Keyed by cell. */
export function observationHandler(deps: { policies: PolicyEngine; metrics: Counted; logger: Logger }) {
  const decoded = new WeakMap<JsMsg, ReturnType<typeof decodeIdentityEvent> | null>();
  const decode = (msg: JsMsg) => {
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
      if (!event) {
        deps.metrics.identityObservations.inc({ kind: msg.subject.split(".").at(-1) ?? "unknown", outcome: "invalid" });
        deps.logger.warn({ seq: msg.seq, subject: msg.subject }, "identity observation is not valid; skipped");
        return;
      }
      const outcome = await deps.policies.onObservation(event);
      deps.metrics.identityObservations.inc({ kind: event.data.kind, outcome });
    },
  };
}
