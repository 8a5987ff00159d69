import type { KV } from "@credmesh/bus";
import { cellKey } from "@credmesh/bus-names";
import type { IdentityEvent, QuarantinePolicy } from "@credmesh/events";
import type { Logger } from "@credmesh/logging";
import type { PolicyConfig } from "./cells.ts";
import type { QuarantineService } from "./quarantine/service.ts";

/** What a policy made of one event. */
export type PolicyOutcome = "quarantined" | "already_quarantined" | "recorded" | "ignored";

/**
 * The policy a certificate transition trips, if its cell turned it on: `expired_certificate` for
 * `expired`, `certificate_mismatch` for `cn_mismatch` and `chain_incomplete` (a certificate that is
 * not the cell's, or not from the cell's CA). Policies act on transitions, not on standing state: a
 * cell released while its certificate is still expired stays released (the operator decided; the
 * alerts keep firing). Pure.
 */
export function certificatePolicy(event: IdentityEvent, policies: PolicyConfig): QuarantinePolicy | undefined {
  const kind = event.data.kind;
  if (kind === "expired" && policies.expiredCertificate) return "expired_certificate";
  if ((kind === "cn_mismatch" || kind === "chain_incomplete") && policies.certificateMismatch) return "certificate_mismatch";
  return undefined;
}

/**
 * Decides, for the replicators' observations and the watcher's certificate transitions, whether a
 * cell is quarantined automatically (each policy on or off per cell; release is never automatic).
 * Evidence from before the cell's last release is ignored, so a release is not undone by the
 * events that caused the quarantine. Repeated access denied is counted per cell in a sliding
 * window kept in KV (bucket `credmesh-identity-state`), so a restart does not forget it.
 */
export class PolicyEngine {
  readonly #policies: ReadonlyMap<string, PolicyConfig>;
  readonly #quarantine: QuarantineService;
  readonly #kv: KV;
  readonly #logger: Logger;

  constructor(deps: { policies: ReadonlyMap<string, PolicyConfig>; quarantine: QuarantineService; kv: KV; logger: Logger }) {
    this.#policies = deps.policies;
    this.#quarantine = deps.quarantine;
    this.#kv = deps.kv;
    this.#logger = deps.logger;
  }

  /** A certificate transition published by the tracker. */
  async onCertificateTransition(cell: string, event: IdentityEvent): Promise<PolicyOutcome> {
    const policies = this.#policies.get(cell);
    const policy = policies && certificatePolicy(event, policies);
    if (!policy) return "ignored";
    const problems = "problems" in event.data ? event.data.problems : [];
    return this.#quarantineFor(cell, event, policy, `certificate ${event.data.kind}: ${problems[0] ?? ("place" in event.data ? event.data.place : "")}`);
  }

  /** An observation of a replicator (clock_skew, access_denied). */
  async onObservation(event: IdentityEvent): Promise<PolicyOutcome> {
    const data = event.data;
    const policies = this.#policies.get(data.cell);
    if (!policies) return "ignored";
    if (data.kind === "clock_skew") {
      const policy = policies.clockSkew;
      if (!policy || Math.abs(data.offsetSeconds) <= policy.toleranceSeconds) return "ignored";
      return this.#quarantineFor(data.cell, event, "clock_skew", `clock skew: a ${data.credentialSource} token ${data.offsetSeconds} s off the cell's clock (tolerance ${policy.toleranceSeconds} s)`);
    }
    if (data.kind === "access_denied") {
      const policy = policies.accessDenied;
      if (!policy) return "ignored";
      const { record } = await this.#quarantine.state(data.cell);
      if (record?.state === "quarantined") return "already_quarantined";
      const at = Date.parse(data.observedAt);
      const since = Math.max(at - policy.windowMs, record ? Date.parse(record.at) : 0);
      if (at <= since && record) return "ignored";
      const count = await this.#count(data.cell, at, since);
      if (count < policy.threshold) return "recorded";
      return this.#quarantineFor(data.cell, event, "access_denied", `access denied ${count} times within ${Math.round(policy.windowMs / 1000)} s (last: ${data.cloud} ${data.operation}${data.code ? ` ${data.code}` : ""})`);
    }
    return "ignored";
  }

  async #quarantineFor(cell: string, event: IdentityEvent, policy: QuarantinePolicy, reason: string): Promise<PolicyOutcome> {
    const { record } = await this.#quarantine.state(cell);
    if (record?.state === "quarantined") return "already_quarantined";
    if (record && Date.parse(event.time) <= Date.parse(record.at)) return "ignored";
    const result = await this.#quarantine.quarantine(cell, { reason: reason.slice(0, 1024), by: "identity-watcher", trigger: { type: "policy", policy, eventId: event.id } });
    if (result.outcome === "quarantined") this.#logger.warn({ cell, policy, eventId: event.id }, "policy quarantined the cell");
    return result.outcome === "quarantined" ? "quarantined" : "already_quarantined";
  }

  /** Adds one denial at `at` to the cell's window and returns how many fall after `since`. */
  async #count(cell: string, at: number, since: number): Promise<number> {
    const key = `policy.access_denied.${cellKey(cell)}`;
    for (let attempt = 0; attempt < 8; attempt++) {
      const entry = await this.#kv.get(key);
      const times = entry?.operation === "PUT" ? ((entry.json<{ times?: number[] }>().times ?? []).filter((t) => typeof t === "number")) : [];
      const kept = [...times.filter((t) => t > since), at].sort((a, b) => a - b).slice(-1_000);
      const value = new TextEncoder().encode(JSON.stringify({ times: kept }));
      try {
        if (entry) await this.#kv.update(key, value, entry.revision);
        else await this.#kv.create(key, value);
        return kept.length;
      } catch {
        continue;
      }
    }
    throw new Error(`access denied window of ${cell} kept changing`);
  }
}
