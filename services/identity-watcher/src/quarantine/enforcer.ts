import type { QuarantineRecord } from "@credmesh/events";
import { toCredmeshError } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import { QUARANTINE_LAYER, type Metrics, type QuarantineLayer } from "@credmesh/metrics";
import type { CellConfig } from "../cells.ts";
import { Periodic } from "../periodic.ts";
import type { AwsQuarantineLayer, LayerResult } from "./aws-layer.ts";
import type { AzureQuarantineLayer } from "./azure-layer.ts";

export type LayerResults = Record<QuarantineLayer, LayerResult>;

export interface EnforcerDeps {
  cells: ReadonlyMap<string, CellConfig>;
  aws: AwsQuarantineLayer | undefined;
  azure: AzureQuarantineLayer | undefined;
  /** The current record of a cell (undefined: never quarantined). */
  read: (cell: string) => Promise<QuarantineRecord | undefined>;
  metrics: Pick<Metrics, "quarantineLayerApplied" | "quarantineLayerFailures">;
  logger: Logger;
}

/**
 * Makes the clouds reflect each cell's quarantine record (the record in KV is the truth): the AWS
 * layer (role tag and revoke-older-sessions deny) and the Azure layer (service principal disabled).
 * Applied at once after every transition, at boot, and again every interval until it succeeds, so
 * a cloud that was unreachable during the quarantine catches up; a layer a cell does not configure
 * is `not_configured`.
 */
export class QuarantineEnforcer {
  readonly #deps: EnforcerDeps;
  #periodic: Periodic | undefined;

  constructor(deps: EnforcerDeps) {
    this.#deps = deps;
  }

  /** Applies a record to the cell's layers, each bounded by `signal`. */
  async apply(cell: string, record: QuarantineRecord, signal: AbortSignal): Promise<LayerResults> {
    const config = this.#deps.cells.get(cell);
    const aws = config?.aws;
    const azure = config?.azure;
    const [awsResult, azureResult] = await Promise.all([
      this.#layer(cell, QUARANTINE_LAYER.aws, aws && this.#deps.aws ? () => this.#deps.aws?.apply(aws.roleArn, record, signal) : undefined),
      this.#layer(cell, QUARANTINE_LAYER.azure, azure && this.#deps.azure ? () => this.#deps.azure?.apply(azure, record, signal) : undefined),
    ]);
    return { aws: awsResult, azure: azureResult };
  }

  /** Converges every configured cell whose record exists; failures are counted and retried next time. */
  async converge(timeoutMs: number): Promise<void> {
    for (const cell of this.#deps.cells.keys()) {
      try {
        const record = await this.#deps.read(cell);
        if (record) await this.apply(cell, record, AbortSignal.timeout(timeoutMs));
      } catch (error) {
        this.#deps.logger.error({ err: error, cell }, "quarantine state could not be read for enforcement");
      }
    }
  }

  start(intervalMs: number, timeoutMs: number): void {
    this.#periodic = new Periodic(() => this.converge(timeoutMs));
    this.#periodic.start(intervalMs);
  }

  async stop(): Promise<void> {
    await this.#periodic?.stop();
  }

  async #layer(cell: string, layer: QuarantineLayer, run: (() => Promise<void> | undefined) | undefined): Promise<LayerResult> {
    if (!run) return { status: "not_configured" };
    try {
      await run();
      this.#deps.metrics.quarantineLayerApplied.set({ cell, layer }, 1);
      return { status: "applied" };
    } catch (error) {
      const failure = toCredmeshError(error);
      const reason = failure.reason === "internal" ? codeOf(error) ?? "internal" : failure.reason;
      this.#deps.metrics.quarantineLayerApplied.set({ cell, layer }, 0);
      this.#deps.metrics.quarantineLayerFailures.inc({ cell, layer, reason });
      this.#deps.logger.error({ err: failure, cell, layer, reason }, "quarantine layer not applied; retrying on the next interval");
      return { status: "failed", detail: reason };
    }
  }
}

/** The AWS SDK's error name (AccessDenied, NoSuchEntity, ...), never its message. */
function codeOf(error: unknown): string | undefined {
  const name = (error as { name?: unknown } | undefined)?.name;
  return typeof name === "string" && name !== "Error" ? name : undefined;
}
