import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@credmesh/bus";
import type { Logger } from "@credmesh/logging";
import { CONTROL_OUTCOME, type Metrics } from "@credmesh/metrics";
import { controlSubject, type Cloud } from "@credmesh/bus-names";
import type { RunCoordinator } from "./lock.ts";
import type { RunOptions } from "./reconciler.ts";
import type { ReconcileReport } from "./report.ts";

/** The on-demand request (`credmesh.control.reconcile.<destination>`), JSON. */
export interface ReconcileRequest {
  /** Compare and report, publish nothing. Dry runs take no lock. */
  dryRun?: boolean;
}

/** The reply: the run's report, or why no run happened. */
export type ReconcileReply = ReconcileReport | { error: { code: "bad_request" | "busy" | "failed"; message: string } };

export interface ReconcileServiceDeps {
  nc: NatsConnection;
  destination: Cloud;
  cell: string;
  reconciler: { run(options: RunOptions): Promise<ReconcileReport> };
  coordinator: RunCoordinator;
  /** Seconds between periodic runs across the destination's replicas; 0: on demand only. */
  intervalSeconds: number;
  /** Counts each request by outcome (a refused one as `invalid_request`). */
  metrics?: Pick<Metrics, "controlRequests">;
  logger: Logger;
  now?: () => Date;
  random?: () => number;
}

/** How often a replica checks whether the periodic run is due (at most; jittered). */
const MAX_CHECK_MS = 60_000;

/** Queue group of the reconcile request subscription: one replica of the destination answers. */
export function reconcileQueueGroup(destination: Cloud): string {
  return `credmesh-reconcile-${destination}`;
}

/**
 * Runs the reconciler on request and on schedule. Requests arrive on
 * `credmesh.control.reconcile.<destination>` in a queue group, so exactly one replica answers
 * each; periodic runs are checked every minute (jittered) by every replica and happen when the
 * last run recorded in the runs bucket is older than the interval. Either way, a run first takes
 * the destination's lock, so at most one runs at a time across replicas.
 */
export class ReconcileService {
  readonly #deps: ReconcileServiceDeps;
  readonly #stopping = new AbortController();
  readonly #inFlight = new Set<Promise<unknown>>();
  #timer: NodeJS.Timeout | undefined;
  #subscription: ReturnType<NatsConnection["subscribe"]> | undefined;

  constructor(deps: ReconcileServiceDeps) {
    this.#deps = deps;
  }

  async start(): Promise<void> {
    const { nc, destination, logger } = this.#deps;
    const subject = controlSubject("reconcile", destination);
    this.#subscription = nc.subscribe(subject, {
      queue: reconcileQueueGroup(destination),
      callback: (_error, msg) => {
        this.#track(
          this.#answer(msg.data).then((reply) => {
            if (msg.reply) msg.respond(new TextEncoder().encode(JSON.stringify(reply)));
          }),
        );
      },
    });
    if (this.#deps.intervalSeconds > 0) {
      const now = this.#now();
      await this.#deps.coordinator.baseline({ kind: "baseline", at: now.toISOString(), cell: this.#deps.cell });
      this.#schedule();
    }
    logger.info({ subject, intervalSeconds: this.#deps.intervalSeconds }, "reconciler ready");
  }

  /** Runs once, as a request would: the report, or why no run happened. */
  async runOnce(request: ReconcileRequest, trigger: RunOptions["trigger"] = "request"): Promise<ReconcileReply> {
    const dryRun = request.dryRun === true;
    if (this.#stopping.signal.aborted) return { error: { code: "busy", message: "the replicator is stopping" } };
    if (dryRun) return this.#deps.reconciler.run({ dryRun, trigger, signal: this.#stopping.signal });
    const runId = randomUUID();
    const acquired = await this.#deps.coordinator.acquire({ cell: this.#deps.cell, runId, since: this.#now().toISOString() });
    if (!("lease" in acquired)) {
      const holder = acquired.heldBy;
      const who = holder ? ` by cell ${holder.cell} since ${holder.since}` : "";
      return { error: { code: "busy", message: `a reconcile of ${this.#deps.destination} is running${who}; try again when it finishes` } };
    }
    const { lease } = acquired;
    try {
      if (trigger === "schedule" && !(await this.#due())) {
        return { error: { code: "busy", message: "another replica ran the periodic reconcile" } };
      }
      const report = await this.#deps.reconciler.run({ dryRun, trigger, signal: AbortSignal.any([this.#stopping.signal, lease.lost]) });
      await this.#deps.coordinator
        .recordRun({ kind: "run", at: report.finishedAt, cell: this.#deps.cell, runId: report.runId, trigger, counts: report.counts })
        .catch((error: unknown) => this.#deps.logger.warn({ err: error }, "reconcile run not recorded"));
      return report;
    } finally {
      await lease.release();
    }
  }

  async stop(): Promise<void> {
    this.#stopping.abort(new Error("stopping"));
    if (this.#timer) clearTimeout(this.#timer);
    await this.#subscription?.drain().catch(() => undefined);
    await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * A request is checked before it runs (README "Security model"): the subject is this
   * destination's (the subscription's), the body is `{}` or `{"dryRun": bool}` and nothing else.
   * Who may send it is NATS's publish permission on the subject (the operator role).
   */
  async #answer(data: Uint8Array): Promise<ReconcileReply> {
    const request = parseRequest(data);
    const reply = "error" in request ? request : await this.#run(request);
    const outcome = !("error" in reply) ? CONTROL_OUTCOME.ok : reply.error.code === "bad_request" ? CONTROL_OUTCOME.invalidRequest : reply.error.code === "busy" ? CONTROL_OUTCOME.busy : CONTROL_OUTCOME.failed;
    this.#deps.metrics?.controlRequests.inc({ command: "reconcile", outcome });
    if (outcome === CONTROL_OUTCOME.invalidRequest) this.#deps.logger.warn({ reason: "error" in reply ? reply.error.message : undefined }, "reconcile request refused");
    return reply;
  }

  async #run(request: ReconcileRequest): Promise<ReconcileReply> {
    try {
      return await this.runOnce(request, "request");
    } catch (error) {
      this.#deps.logger.error({ err: error }, "reconcile request failed");
      return { error: { code: "failed", message: "the reconcile run could not start (see the replicator's log)" } };
    }
  }

  async #due(): Promise<boolean> {
    const last = await this.#deps.coordinator.lastRun();
    if (!last) return true;
    return this.#now().getTime() - Date.parse(last.at) >= this.#deps.intervalSeconds * 1000;
  }

  #schedule(): void {
    if (this.#stopping.signal.aborted) return;
    const period = Math.min(MAX_CHECK_MS, this.#deps.intervalSeconds * 1000);
    // Jitter spreads the replicas' checks, so they rarely contend for the lock.
    const delay = period * (0.75 + 0.5 * (this.#deps.random ?? Math.random)());
    this.#timer = setTimeout(() => {
      this.#track(this.#tick().finally(() => this.#schedule()));
    }, delay);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      if (!(await this.#due())) return;
      const reply = await this.runOnce({}, "schedule");
      if ("error" in reply) this.#deps.logger.debug({ reason: reply.error.message }, "periodic reconcile skipped");
    } catch (error) {
      this.#deps.logger.error({ err: error }, "periodic reconcile failed");
    }
  }

  #track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => this.#deps.logger.error({ err: error }, "reconcile task failed"));
    this.#inFlight.add(tracked);
    void tracked.finally(() => this.#inFlight.delete(tracked));
  }

  #now(): Date {
    return (this.#deps.now ?? (() => new Date()))();
  }
}

/** Validates a request body: empty, or a JSON object with an optional boolean `dryRun`. */
export function parseRequest(data: Uint8Array): ReconcileRequest | { error: { code: "bad_request"; message: string } } {
  const text = new TextDecoder().decode(data).trim();
  if (text === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { error: { code: "bad_request", message: "the request is not JSON; send {} or {\"dryRun\": true}" } };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { error: { code: "bad_request", message: "the request must be a JSON object" } };
  }
  const unknown = Object.keys(parsed).filter((key) => key !== "dryRun");
  if (unknown.length > 0) {
    const named = unknown.slice(0, 5).map((key) => JSON.stringify(key.slice(0, 40))).join(", ");
    return { error: { code: "bad_request", message: `unknown field(s) ${named}; the only field is dryRun` } };
  }
  const dryRun = (parsed as { dryRun?: unknown }).dryRun;
  if (dryRun !== undefined && typeof dryRun !== "boolean") return { error: { code: "bad_request", message: "dryRun must be true or false" } };
  return dryRun === undefined ? {} : { dryRun };
}
