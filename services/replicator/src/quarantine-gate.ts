import type { AccessToken, GetTokenOptions } from "@azure/core-auth";
import type { AwsCredentialIdentity } from "@aws-sdk/types";
import { CredmeshError, isCredmeshError } from "@credmesh/errors";
import type { QuarantineRecord } from "@credmesh/events";
import type { ChainedAwsCredentials, ChainedTokenCredential } from "@credmesh/identity";
import type { Logger } from "@credmesh/logging";
import { GATE_STATE, type Metrics } from "@credmesh/metrics";
import type { ListedSecret, VaultContext, VaultPort } from "@credmesh/vault";

/** What the gate knows of its cell's quarantine state. */
export type GateView =
  | { state: typeof GATE_STATE.open }
  | { state: typeof GATE_STATE.quarantined; record: QuarantineRecord }
  | { state: typeof GATE_STATE.unknown; why: string };

/** Told about every change of the gate, after it changed. */
export type GateListener = (view: GateView, previous: GateView) => void;

/**
 * The quarantine gate of a replicator cell (SPEC section 2, "quarantine"): everything that uses the
 * cell's identity — vault calls, credential fetches, the mutations that drive them — passes it.
 * While the cell is quarantined, or while its state cannot be read (fail closed), nothing new
 * starts and what is in flight is aborted through {@link signal}. The gate itself only holds the
 * state; the KV watch (quarantine-watch.ts) feeds it and the decorators below enforce it.
 *
 * It starts closed (`unknown`): nothing may use the identity before the state was read once.
 */
export class QuarantineGate {
  readonly cell: string;
  #view: GateView = { state: GATE_STATE.unknown, why: "the quarantine state has not been read yet" };
  #controller = new AbortController();
  /** Changes each time the gate closes: work that began in an earlier epoch was interrupted. */
  #epoch = 0;
  readonly #listeners: GateListener[] = [];
  readonly #openWaiters = new Set<() => void>();
  readonly #metrics: Pick<Metrics, "quarantineGateState" | "quarantineAborted"> | undefined;

  constructor(cell: string, options: { metrics?: Pick<Metrics, "quarantineGateState" | "quarantineAborted"> } = {}) {
    this.cell = cell;
    this.#metrics = options.metrics;
    this.#controller.abort(this.#reason());
    this.#export();
  }

  get view(): GateView {
    return this.#view;
  }

  get isOpen(): boolean {
    return this.#view.state === GATE_STATE.open;
  }

  /** Aborted when the gate closes; a fresh, live signal after each opening. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Increments every time the gate closes. */
  get epoch(): number {
    return this.#epoch;
  }

  onChange(listener: GateListener): void {
    this.#listeners.push(listener);
  }

  /** Sets the state. Closing aborts in-flight work at once; opening wakes whatever waits. */
  set(view: GateView): void {
    const previous = this.#view;
    if (sameView(previous, view)) return;
    this.#view = view;
    const wasOpen = previous.state === GATE_STATE.open;
    if (wasOpen && view.state !== GATE_STATE.open) {
      this.#epoch += 1;
      this.#controller.abort(this.#reason());
    } else if (!wasOpen && view.state === GATE_STATE.open) {
      this.#controller = new AbortController();
      for (const wake of this.#openWaiters) wake();
      this.#openWaiters.clear();
    } else if (view.state !== GATE_STATE.open) {
      // Closed for another reason (unknown → quarantined): keep the signal aborted, with the new reason.
      this.#controller = new AbortController();
      this.#controller.abort(this.#reason());
    }
    this.#export();
    for (const listener of this.#listeners) listener(view, previous);
  }

  /** Throws the `quarantined` error when the gate is closed. */
  check(): void {
    if (!this.isOpen) {
      this.#metrics?.quarantineAborted.inc({ cell: this.cell });
      throw this.#reason();
    }
  }

  /** The `quarantined` error for work abandoned because the gate closed while it ran (counted). */
  abandoned(): CredmeshError {
    this.#metrics?.quarantineAborted.inc({ cell: this.cell });
    return this.#reason();
  }

  /** Resolves once the gate is open; rejects with the `quarantined` error when `signal` aborts first. */
  async whenOpen(signal?: AbortSignal): Promise<void> {
    if (this.isOpen) return;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#openWaiters.delete(wake);
        reject(this.#reason());
      };
      const wake = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      if (signal?.aborted) {
        onAbort();
        return;
      }
      this.#openWaiters.add(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Runs work that uses the identity, holding it across a quarantine: it waits while the gate is
   * closed, and when the gate closes during the work (which aborts its cloud calls) it waits for
   * the release and runs the work again from the start. The message behind it is neither
   * acknowledged nor given back meanwhile: its consumer keeps signalling progress, so the
   * quarantine costs no delivery attempt (nothing can be dead-lettered for it). `signal` (the
   * process shutting down) ends the wait with the retryable `quarantined` error.
   */
  async hold<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (;;) {
      await this.whenOpen(signal);
      const epoch = this.#epoch;
      try {
        return await work();
      } catch (error) {
        if (this.#epoch === epoch && this.isOpen) throw error;
        // The gate closed while the work ran: its failure is the abort; try again once released.
      }
    }
  }

  /** For /readyz: open, or why not. */
  readiness(): { ok: boolean; detail?: string } {
    const view = this.#view;
    if (view.state === GATE_STATE.open) return { ok: true };
    if (view.state === GATE_STATE.unknown) return { ok: false, detail: `quarantine state of cell ${this.cell} unknown (failing closed): ${view.why}` };
    return { ok: false, detail: describeQuarantine(view.record) };
  }

  #reason(): CredmeshError {
    const view = this.#view;
    const why = view.state === GATE_STATE.quarantined ? describeQuarantine(view.record) : view.state === GATE_STATE.unknown ? `quarantine state unknown, failing closed: ${view.why}` : "gate open";
    return new CredmeshError("quarantined", why, { code: view.state === GATE_STATE.quarantined ? "CellQuarantined" : "QuarantineStateUnknown" });
  }

  #export(): void {
    if (!this.#metrics) return;
    for (const state of Object.values(GATE_STATE)) {
      this.#metrics.quarantineGateState.set({ cell: this.cell, state }, state === this.#view.state ? 1 : 0);
    }
  }
}

/** Who quarantined the cell, when and why, in one line. */
export function describeQuarantine(record: QuarantineRecord): string {
  const trigger = record.trigger.type === "policy" ? `policy ${record.trigger.policy}` : `operator ${record.by}`;
  return `cell ${record.cell} quarantined since ${record.at} by ${trigger}: ${record.reason}`;
}

function sameView(a: GateView, b: GateView): boolean {
  if (a.state !== b.state) return false;
  if (a.state === GATE_STATE.quarantined && b.state === GATE_STATE.quarantined) return a.record.transitionId === b.record.transitionId;
  if (a.state === GATE_STATE.unknown && b.state === GATE_STATE.unknown) return a.why === b.why;
  return true;
}

/** Told about cloud calls the cloud refused as not allowed (the identity-watcher counts them). */
export type AccessDeniedReporter = (observation: { cloud: "aws" | "azure"; operation: string; code?: string }) => void;

/**
 * A vault port behind the gate: every call is refused while the gate is closed, runs with the
 * gate's signal joined to its own deadline (so a quarantine aborts it at once), and a failure
 * caused by that abort is reported as `quarantined`. Refusals by the cloud (`access_denied`) are
 * reported for the identity-watcher's policy.
 */
export function gatedVault(vault: VaultPort, gate: QuarantineGate, onAccessDenied?: AccessDeniedReporter): VaultPort {
  const run = async <T>(operation: string, ctx: VaultContext, call: (ctx: VaultContext) => Promise<T>): Promise<T> => {
    gate.check();
    const epoch = gate.epoch;
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, gate.signal]) : gate.signal;
    try {
      return await call({ ...ctx, signal });
    } catch (error) {
      if (gate.epoch !== epoch || !gate.isOpen) throw gate.abandoned();
      if (isCredmeshError(error) && error.reason === "access_denied") {
        onAccessDenied?.({ cloud: vault.cloud, operation, ...(error.code ? { code: error.code } : {}) });
      }
      throw error;
    }
  };
  const gated: VaultPort = {
    cloud: vault.cloud,
    tagsPerVersion: vault.tagsPerVersion,
    read: (name, ctx) => run("read", ctx, (c) => vault.read(name, c)),
    get: (name, ctx, options) => run("get", ctx, (c) => vault.get(name, c, options)),
    describe: (name, ctx, options) => run("describe", ctx, (c) => vault.describe(name, c, options)),
    put: (name, value, options, ctx) => run("put", ctx, (c) => vault.put(name, value, options, c)),
    delete: (name, options, ctx) => run("delete", ctx, (c) => vault.delete(name, options, c)),
    restore: (name, ctx) => run("restore", ctx, (c) => vault.restore(name, c)),
    versions: (name, ctx, limit) => run("versions", ctx, (c) => vault.versions(name, c, limit)),
    list: (ctx, options) => gatedList(vault, gate, ctx, options),
  };
  return gated;
}

async function* gatedList(vault: VaultPort, gate: QuarantineGate, ctx: VaultContext, options: Parameters<VaultPort["list"]>[1]): AsyncIterable<ListedSecret> {
  gate.check();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, gate.signal]) : gate.signal;
  try {
    for await (const item of vault.list({ ...ctx, signal }, options)) {
      gate.check();
      yield item;
    }
  } catch (error) {
    if (!gate.isOpen) throw gate.abandoned();
    throw error;
  }
}

/**
 * The cell's credentials behind the gate: no credential is fetched or handed out while the gate is
 * closed (a token exchange is a cloud call with the cell's identity too).
 */
export function gatedCredentials<C extends { aws: ChainedAwsCredentials; azure: ChainedTokenCredential }>(credentials: C, gate: QuarantineGate): C {
  const awsProvider = async (): Promise<AwsCredentialIdentity> => {
    gate.check();
    return credentials.aws();
  };
  const aws: ChainedAwsCredentials = Object.assign(awsProvider, { invalidate: () => credentials.aws.invalidate(), chain: credentials.aws.chain });
  const azure: ChainedTokenCredential = {
    chain: credentials.azure.chain,
    invalidate: () => credentials.azure.invalidate(),
    async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
      gate.check();
      return credentials.azure.getToken(scopes, options);
    },
  };
  return { ...credentials, aws, azure };
}

/**
 * Drops every credential the cell holds when it is quarantined and again when it is released: in
 * AWS, sessions issued before the quarantine are denied afterwards (the watcher's revoke policy),
 * so after a release the cell must start with new ones. `dropClients` rebuilds the SDK clients,
 * which memoise the last credentials they were given.
 */
export function dropCredentialsOnChange(
  gate: QuarantineGate,
  credentials: { aws: { invalidate(): void }; azure: { invalidate(): void } },
  dropClients: () => void,
  logger: Logger,
): void {
  gate.onChange((view, previous) => {
    const quarantinedNow = view.state === GATE_STATE.quarantined;
    const released = previous.state === GATE_STATE.quarantined && view.state === GATE_STATE.open;
    if (quarantinedNow || released) {
      credentials.aws.invalidate();
      credentials.azure.invalidate();
      dropClients();
      logger.info({ gate: view.state, previous: previous.state }, "cached cloud credentials dropped");
    }
  });
}

/** The vault factories of the cell, each vault behind the gate (one wrapper per vault). */
export function gatedVaults<V extends { sourceFor(...args: never[]): VaultPort; destinationFor(...args: never[]): VaultPort }>(
  vaults: V,
  gate: QuarantineGate,
  onAccessDenied?: AccessDeniedReporter,
): Pick<V, "sourceFor" | "destinationFor"> {
  const wrapped = new WeakMap<VaultPort, VaultPort>();
  const wrap = (vault: VaultPort): VaultPort => {
    let gated = wrapped.get(vault);
    if (!gated) {
      gated = gatedVault(vault, gate, onAccessDenied);
      wrapped.set(vault, gated);
    }
    return gated;
  };
  return {
    sourceFor: ((...args: never[]) => wrap(vaults.sourceFor(...args))),
    destinationFor: ((...args: never[]) => wrap(vaults.destinationFor(...args))),
  };
}
