import type { ListedSecret } from "@credmesh/vault";

interface Known {
  /** The current version's creation, whole seconds, as the listing shows it. */
  second: number;
  versionId: string;
}

/**
 * What earlier runs of this process proved about Key Vault sources' current versions, so that a
 * run reads a source's version list only when the listing shows a version it has not seen.
 *
 * A Key Vault listing gives each secret's current version's creation time (whole seconds) but
 * not its id. A versions read made after the vault's clock had passed the end of that second
 * sees every version created in it; so if it found version V current, any later listing that
 * shows the same creation second shows V (a newer version would carry a later second). The
 * vault's clock is judged by the vault's own timestamps (see {@link listedUntil}), or by this
 * host's less a generous allowance for skew. A source read within the second its version was
 * created is not remembered: the next run reads it again.
 *
 * Only sources whose older versions tell nothing (no provenance, no write stamp) are remembered:
 * for the others the older versions' metadata is part of the decision, and is read every run.
 * Memory is per process and bounded by the sources listed in the last run.
 */
export class KnownVersions {
  #known = new Map<string, Known>();
  #next = new Map<string, Known>();

  /** Starts a run: what it does not see again is forgotten at {@link endRun}. */
  beginRun(): void {
    this.#next = new Map();
  }

  /** The current version id of a listed source, when an earlier run proved it and the listing shows that version still. */
  recall(key: string, entry: ListedSecret): string | undefined {
    const second = secondOf(entry.currentCreatedAt);
    const known = this.#known.get(key);
    if (known === undefined || second === undefined || known.second !== second) return undefined;
    this.#next.set(key, known);
    return known.versionId;
  }

  /**
   * A versions read found `versionId` current for the listed `entry`. `notBefore`: a time the
   * vault's clock had reached before the read (see {@link listedUntil}).
   */
  learn(key: string, entry: ListedSecret, versionId: string | undefined, notBefore: number | undefined): void {
    const second = secondOf(entry.currentCreatedAt);
    if (versionId === undefined || second === undefined || notBefore === undefined || notBefore < (second + 1) * 1000) return;
    this.#next.set(key, { second, versionId });
  }

  /** Ends a run: keeps what it recalled or learned. */
  endRun(): void {
    this.#known = this.#next;
    this.#next = new Map();
  }

  get size(): number {
    return this.#known.size;
  }
}

function secondOf(date: Date | undefined): number | undefined {
  return date === undefined ? undefined : Math.floor(date.getTime() / 1000);
}

/**
 * The latest vault timestamp (a current version's creation, a deletion) in a complete listing:
 * the vault's clock had reached it when the listing ended, since a listing only holds what existed
 * when its pages were served. Every versions read of a run comes after its listings.
 */
export function listedUntil(entries: readonly ListedSecret[]): number | undefined {
  let latest: number | undefined;
  for (const entry of entries) {
    for (const date of [entry.createdAt, entry.currentCreatedAt, entry.deletedAt]) {
      if (date !== undefined) latest = Math.max(latest ?? date.getTime(), date.getTime());
    }
  }
  return latest;
}
