import type { ListedSecret } from "@credmesh/vault";
import { mapLimit } from "./inventory.ts";
import type { Proof, ProvedVersionStore } from "./proved-versions.ts";

interface Known extends Proof {
  /** When the store last kept this proof (epoch ms); undefined until it did. */
  storedAt: number | undefined;
}

/** Store reads and writes in flight at once. */
const STORE_CONCURRENCY = 16;

/** What a run's end did with the store. */
export interface StoreOutcome {
  /** Proofs written (new, changed, or refreshed before they expire). */
  written: number;
  /** Store reads and writes that failed: each costs at most a versions read in a later run. */
  failed: number;
}

/**
 * What earlier runs proved about Key Vault sources' current versions, so that a run reads a
 * source's version list only when the listing shows a version not proved yet.
 *
 * A Key Vault listing gives each secret's current version's creation time (whole seconds) but
 * not its id. A versions read made after the vault's clock had passed the end of that second
 * sees every version created in it; so if it found version V current, any later listing that
 * shows the same creation second shows V (a newer version would carry a later second) — a proof
 * never goes stale, it only stops applying. The vault's clock is judged by the vault's own
 * timestamps and the time it says it served the listing (see {@link listedUntil}), or by this
 * host's less a generous allowance for skew. A source read before the vault's clock left the
 * second its version was created is not remembered: the next run reads it again.
 *
 * Only sources whose older versions tell nothing (no provenance, no write stamp) are remembered:
 * for the others the older versions' metadata is part of the decision, and is read every run.
 * Proofs are kept in memory (bounded by the sources listed in the last run) and, with a store, in
 * the bus ({@link ProvedVersionStore}), so a restarted process or another replica of the
 * destination does not read every version list again.
 */
export class KnownVersions {
  readonly #store: ProvedVersionStore | undefined;
  readonly #now: () => number;
  #known = new Map<string, Known>();
  #next = new Map<string, Known>();
  #writes = new Map<string, Known>();
  #failed = 0;

  constructor(options: { store?: ProvedVersionStore | undefined; now?: () => number } = {}) {
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
  }

  /** Starts a run: what it does not see again is forgotten at {@link endRun}. */
  beginRun(): void {
    this.#next = new Map();
    this.#writes = new Map();
    this.#failed = 0;
  }

  /**
   * The current version id of a listed source, when an earlier run (of this process, or any
   * replica's through the store) proved it and the listing shows that version still.
   */
  async recall(key: string, entry: ListedSecret): Promise<string | undefined> {
    const second = secondOf(entry.currentCreatedAt);
    if (second === undefined) return undefined;
    let known = this.#known.get(key);
    if (known?.second !== second && this.#store) known = await this.#fromStore(this.#store, key);
    if (known?.second !== second) return undefined;
    this.#next.set(key, known);
    // Written again before the store's max age removes it (or first written, after a failed write).
    if (this.#store && (known.storedAt === undefined || this.#now() - known.storedAt > this.#store.ttlMs / 2)) this.#writes.set(key, known);
    return known.versionId;
  }

  /**
   * A versions read found `versionId` current for the listed `entry`. `notBefore`: a time the
   * vault's clock had reached before the read (see {@link listedUntil}).
   */
  learn(key: string, entry: ListedSecret, versionId: string | undefined, notBefore: number | undefined): void {
    const second = secondOf(entry.currentCreatedAt);
    if (versionId === undefined || second === undefined || notBefore === undefined || notBefore < (second + 1) * 1000) return;
    const known: Known = { second, versionId, storedAt: undefined };
    this.#next.set(key, known);
    if (this.#store) this.#writes.set(key, known);
  }

  /**
   * Ends a run: keeps what it recalled or learned — and, after an incomplete run (a listing or a
   * read failed), what it did not see too, so a passing failure does not cost every version list
   * again — and writes the new proofs to the store.
   */
  async endRun(options: { complete: boolean }): Promise<StoreOutcome> {
    this.#known = options.complete ? this.#next : new Map([...this.#known, ...this.#next]);
    this.#next = new Map();
    const writes = [...this.#writes];
    this.#writes = new Map();
    const store = this.#store;
    let written = 0;
    if (store) {
      await mapLimit(writes, STORE_CONCURRENCY, async ([key, known]) => {
        try {
          await store.put(key, known);
          known.storedAt = this.#now();
          written++;
        } catch {
          this.#failed++;
        }
      });
    }
    return { written, failed: this.#failed };
  }

  get size(): number {
    return this.#known.size;
  }

  async #fromStore(store: ProvedVersionStore, key: string): Promise<Known | undefined> {
    try {
      const stored = await store.get(key);
      return stored && { second: stored.second, versionId: stored.versionId, storedAt: stored.storedAt };
    } catch {
      this.#failed++;
      return undefined;
    }
  }
}

function secondOf(date: Date | undefined): number | undefined {
  return date === undefined ? undefined : Math.floor(date.getTime() / 1000);
}

/**
 * How far the clock that dates a vault's answers (HTTP `Date`) may run ahead of the one that
 * stamps its versions' creation: the service's servers are time-synchronised to well under this.
 */
export const SERVED_AT_ALLOWANCE_MS = 5_000;

/**
 * A time the vault's clock had reached when a complete listing ended: its latest timestamp (a
 * current version's creation, a deletion — a listing only holds what existed when its pages were
 * served), and the time the vault said it served the listing, less {@link SERVED_AT_ALLOWANCE_MS}.
 * Every versions read of a run comes after its listings.
 */
export function listedUntil(entries: readonly ListedSecret[]): number | undefined {
  let latest: number | undefined;
  for (const entry of entries) {
    const served = entry.servedAt === undefined ? undefined : entry.servedAt.getTime() - SERVED_AT_ALLOWANCE_MS;
    for (const time of [entry.createdAt?.getTime(), entry.currentCreatedAt?.getTime(), entry.deletedAt?.getTime(), served]) {
      if (time !== undefined) latest = Math.max(latest ?? time, time);
    }
  }
  return latest;
}
