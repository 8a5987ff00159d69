import { whileBusSettles, type BusPublisher, type NatsConnection } from "@credmesh/bus";
import type { RetryBudget } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { renderTemplate } from "@credmesh/replicas";
import type { ReplicatorConfig } from "../config.ts";
import { KvRunCoordinator } from "./lock.ts";
import { KvProvedVersions } from "./proved-versions.ts";
import { Reconciler, type ReconcilerDeps } from "./reconciler.ts";
import { ReconcileService } from "./service.ts";

export { Reconciler, type ReconcilerDeps, type RunOptions } from "./reconciler.ts";
export { ReconcileService, parseRequest, reconcileQueueGroup, type ReconcileReply, type ReconcileRequest } from "./service.ts";
export { KvRunCoordinator, LOCK_TTL_MS, RECONCILE_LOCK_BUCKET, RECONCILE_RUNS_BUCKET, type RunCoordinator } from "./lock.ts";
export { PROVED_VERSIONS_BUCKET } from "./proved-versions.ts";
export { ACTION, REASON, STATUS, type Finding, type ReconcileReport, type RunError } from "./report.ts";

export interface StartReconcilerDeps {
  nc: NatsConnection;
  config: Pick<ReplicatorConfig, "destination" | "cell" | "rules" | "reconcile" | "streamReplicas" | "azure" | "aws">;
  vaults: ReconcilerDeps["vaults"];
  publisher: BusPublisher;
  metrics: Metrics;
  budget: RetryBudget;
  logger: Logger;
}

/**
 * Anti-entropy for the cell's destination: creates (or binds) the coordination buckets and the
 * proved versions bucket, then serves `credmesh.control.reconcile.<destination>` and the periodic
 * schedule.
 */
export async function startReconciler(deps: StartReconcilerDeps): Promise<ReconcileService> {
  const { config, logger } = deps;
  const log = logger.child({ component: "reconciler" });
  const coordinator = await whileBusSettles(() => KvRunCoordinator.open(deps.nc, config.destination, { replicas: config.streamReplicas, logger: log }), "the reconcile buckets", log);
  const provedVersions = await whileBusSettles(() => KvProvedVersions.open(deps.nc, config.destination, { replicas: config.streamReplicas }), "the proved versions bucket", log);
  const reconciler = new Reconciler({
    destination: config.destination,
    cell: config.cell,
    rules: config.rules,
    vaults: deps.vaults,
    // The cell's AWS calls run in its role's account (as the rate limits in wiring.ts assume).
    awsAccount: config.aws.roleArn.split(":")[4],
    // The same resolution the replicator uses for source vaults (CREDMESH_AZURE_VAULT_URL_TEMPLATE).
    vaultUrlOf: (vault) => renderTemplate(config.azure.vaultUrlTemplate, { name: "", vault: vault.toLowerCase() }),
    publisher: deps.publisher,
    metrics: deps.metrics,
    budget: deps.budget,
    maxDeletes: config.reconcile.maxDeletes,
    provedVersions,
    logger: log,
  });
  const service = new ReconcileService({
    nc: deps.nc,
    destination: config.destination,
    cell: config.cell,
    reconciler,
    coordinator,
    intervalSeconds: config.reconcile.intervalSeconds,
    metrics: deps.metrics,
    logger: log,
  });
  await service.start();
  return service;
}
