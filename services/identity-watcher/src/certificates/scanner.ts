import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import type { CellConfig } from "../cells.ts";
import { Periodic } from "../periodic.ts";
import { judge } from "./judge.ts";
import { readAnchors, readSource } from "./places.ts";
import type { CertificateTracker } from "./tracker.ts";
import { judgeVaultCertificate } from "./vault-certificates.ts";

export interface ScannerDeps {
  cells: readonly CellConfig[];
  tracker: CertificateTracker;
  metrics: Pick<Metrics, "readErrors" | "sourceErrors" | "identityLastScan">;
  logger: Logger;
  now?: () => number;
}

/**
 * Judges every watched certificate of every cell, on an interval (polling is the baseline that
 * works on every volume type, Kubernetes projected volumes included): file places as they are
 * now, vault certificates from what their lifecycle events said (their dates move them past the
 * renewal point and into expiry without any new event). Places that went away (a glob match that
 * disappeared) are reported `absent` once and then forgotten.
 */
export class CertificateScanner {
  readonly #deps: ScannerDeps;
  readonly #periodic = new Periodic(() => this.scan());

  constructor(deps: ScannerDeps) {
    this.#deps = deps;
  }

  /** One scan of every cell; a failing cell is logged and does not stop the others. */
  async scan(): Promise<void> {
    const now = new Date((this.#deps.now ?? Date.now)());
    for (const cell of this.#deps.cells) {
      try {
        await this.#scanCell(cell, now);
      } catch (error) {
        this.#deps.logger.error({ err: error, cell: cell.id }, "certificate scan of the cell failed; next scan retries");
      }
    }
    this.#deps.metrics.identityLastScan.set(now.getTime() / 1000);
  }

  /** Scans now and then every `intervalMs`, never two scans at once. */
  start(intervalMs: number): void {
    this.#periodic.start(intervalMs);
  }

  async stop(): Promise<void> {
    await this.#periodic.stop();
  }

  async #scanCell(cell: CellConfig, now: Date): Promise<void> {
    const { tracker, metrics } = this.#deps;
    const seen = new Set<string>();
    let readErrors = 0;
    for (const source of cell.certificates) {
      const anchors = await readAnchors(source.trustAnchorFile);
      if (anchors?.ok === false) metrics.sourceErrors.inc({ cell: cell.id, reason: "trust_anchor" });
      for (const { place, path, reading } of await readSource(source)) {
        seen.add(place);
        if (reading.kind !== "certificate") {
          readErrors += 1;
          metrics.sourceErrors.inc({ cell: cell.id, reason: reading.kind });
        }
        await tracker.observe(cell.id, place, { type: "file", path }, judge(reading, source, anchors, now.getTime()), now);
      }
    }
    for (const known of await tracker.known(cell.id)) {
      if (known.source.type === "vault") {
        const verdict = judgeVaultCertificate({ version: known.version, notBefore: known.notBefore, notAfter: known.notAfter, floor: floorOf(known) }, now.getTime());
        await tracker.observe(cell.id, known.place, known.source, verdict, now);
      } else if (!seen.has(known.place)) {
        await tracker.observe(cell.id, known.place, known.source, { state: "absent", problems: [`${known.place} is gone`] }, now);
        await tracker.forget(cell.id, known.place);
      }
    }
    metrics.readErrors.set({ cell: cell.id }, readErrors);
  }
}

/** What the vault said and the dates cannot contradict: expired stays expired; "near expiry" without dates stays. */
function floorOf(known: { state: string; notAfter?: string | undefined }): "expired" | "near_expiry" | undefined {
  if (known.state === "expired") return "expired";
  if (known.state === "near_expiry" && known.notAfter === undefined) return "near_expiry";
  return undefined;
}
