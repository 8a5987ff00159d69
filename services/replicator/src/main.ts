import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  BusPublisher,
  StreamPlacement,
  busReadinessChecks,
  credmeshStreamNames,
  kvStreamName,
  openBus,
  reportBusState,
  ensureReplicatorConsumers,
  openQuarantineBucket,
  runConsumer,
  whileBusSettles,
  type NatsConnection,
  type RunningConsumer,
} from "@credmesh/bus";
import { inboxPrefixOf } from "@credmesh/bus-roles";
import { busSettings } from "@credmesh/config";
import { RetryBudget } from "@credmesh/errors";
import { createLogger } from "@credmesh/logging";
import { createMetrics } from "@credmesh/metrics";
import { KV_BUCKETS, REPLICA_GROUP, STREAMS } from "@credmesh/bus-names";
import { renderTemplate } from "@credmesh/replicas";
import { exitOnBootFailure, onShutdown, opsRoutes, sendJson } from "@credmesh/runtime";
import { admittedRule } from "./admission.ts";
import { applyMutation } from "./converge/apply.ts";
import { resolveReplicatorConfig } from "./config.ts";
import { KvSecretLeases, SECRET_LEASE_BUCKET } from "./secret-lease.ts";
import { buildCredentials, buildVaults } from "./wiring.ts";
import { createHandlers } from "./consumer-handler.ts";
import { PROVED_VERSIONS_BUCKET, RECONCILE_LOCK_BUCKET, RECONCILE_RUNS_BUCKET, startReconciler } from "./reconcile/index.ts";
import { QuarantineGate, dropCredentialsOnChange, gatedCredentials, gatedVaults } from "./quarantine-gate.ts";
import { watchQuarantine } from "./quarantine-watch.ts";

/** Boots a replicator cell for its destination cloud. */
async function main(): Promise<void> {
  const bootLogger = createLogger({ service: "replicator" });
  let config;
  try {
    config = resolveReplicatorConfig();
  } catch (error) {
    exitOnBootFailure(bootLogger, error);
  }
  const logger = createLogger({ service: `replicator-${config.destination}`, level: config.logLevel }).child({ cell: config.cell });
  const metrics = createMetrics();

  const credentials = buildCredentials(config, metrics, logger);
  // Everything that uses the cell's identity passes the quarantine gate (closed until the state
  // has been read): credential fetches, every vault call, and the mutations that drive them.
  const gate = new QuarantineGate(config.cell, { metrics });
  const vaultClients = buildVaults(config, gatedCredentials(credentials, gate), metrics);
  const vaults = gatedVaults(vaultClients, gate, (observation) => credentials.identityEvents.accessDenied(observation));
  dropCredentialsOnChange(gate, credentials, () => vaultClients.reset(), logger);
  const shutdown = new AbortController();

  let nc: NatsConnection;
  let durables: string[];
  try {
    const role = { kind: "replicator" as const, destination: config.destination, cell: config.cell };
    nc = await openBus(busSettings(config, `credmesh-replicator-${config.cell}`, inboxPrefixOf(role)), logger);
    const bus = nc;
    durables = await whileBusSettles(
      () =>
        ensureReplicatorConsumers(bus, config.destination, config.partitions, {
          maxDeliver: config.maxDeliver,
          ackWaitMs: config.ackWaitMs,
          maxAckPending: config.maxAckPending,
          pinTimeoutMs: config.pinTimeoutMs,
        }),
      "consumers",
      logger,
    );
  } catch (error) {
    exitOnBootFailure(logger, error);
  }
  let quarantineWatch;
  try {
    const bucket = await whileBusSettles(() => openQuarantineBucket(nc, config.streamReplicas), "the quarantine bucket", logger);
    quarantineWatch = await watchQuarantine(nc, bucket, gate, logger, { recheckMs: config.quarantineRecheckMs });
  } catch (error) {
    exitOnBootFailure(logger, error);
  }

  // Audit records and dead letters ride out a stream leader election (same message id), within
  // the mutation's deadline; past it the mutation is not settled and comes back.
  const publisher = new BusPublisher(nc, { timeoutMs: 5_000, retryWindowMs: config.mutationDeadlineMs, partitions: config.partitions, metrics });
  // Identity events (clock skew refusals) go to the identity-watcher over the bus.
  credentials.identityEvents.attach(publisher);
  const budget = new RetryBudget();
  const leases = config.secretLeaseMs > 0
    ? await whileBusSettles(() => KvSecretLeases.open(nc, { destination: config.destination, cell: config.cell, ttlMs: config.secretLeaseMs, replicas: config.streamReplicas, logger }), "the secret lease bucket", logger)
    : undefined;
  const handlers = createHandlers({
    destination: config.destination,
    cell: config.cell,
    ...(leases ? { leases } : {}),
    admit: (event) => void admittedRule(event, config.rules, config.destination),
    apply: (event, run) =>
      applyMutation(
        event,
        {
          rules: config.rules,
          ...vaults,
          // The same resolution as the cell's source vaults (CREDMESH_AZURE_VAULT_URL_TEMPLATE).
          vaultUrlOf: (vault) => renderTemplate(config.azure.vaultUrlTemplate, { name: "", vault: vault.toLowerCase() }),
          contentHashKey: config.contentHashKey,
          budget,
          ownSessionPrefix: config.ownSessionPrefix,
        },
        run,
      ),
    publisher,
    metrics,
    logger,
  });
  const consumer: RunningConsumer = await runConsumer(nc, {
    stream: STREAMS.mutations.name,
    durables,
    group: REPLICA_GROUP,
    concurrency: config.concurrency,
    maxDeliver: config.maxDeliver,
    ackWaitMs: config.ackWaitMs,
    deadlineMs: config.mutationDeadlineMs,
    keyOf: (msg) => handlers.keyOf(msg),
    handle: (msg, deadline) => handlers.handle(msg, deadline),
    // A quarantine holds the message between attempts (its cloud calls aborted, progress still
    // signalled) and runs it again after the release: no acknowledgement, no delivery attempt spent.
    hold: (attempt) => gate.hold(attempt, shutdown.signal),
    deadLetter: (msg, error) => handlers.deadLetter(msg, error),
    onRetry: (msg, error, delayMs) => handlers.onRetry(msg, error, delayMs),
    logger,
    metrics,
  });

  // Stop pulling while the gate is closed: nothing is delivered to a cell that cannot work, and
  // the pins of its partitions move to other replicas (other cells) after the pin timeout.
  const followGate = (): void => {
    void (gate.isOpen ? consumer.resume() : consumer.pause()).catch((error: unknown) => logger.error({ err: error }, "consumer pause/resume failed"));
  };
  gate.onChange(followGate);
  followGate();

  let reconciler;
  try {
    reconciler = await startReconciler({ nc, config, vaults, publisher, metrics, budget, logger });
  } catch (error) {
    exitOnBootFailure(logger, error);
  }

  // Every stream and KV bucket this cell uses, checked against CREDMESH_STREAM_REPLICAS at boot and
  // on every readiness probe: one with another replica count is reported, never silently used.
  const placement = new StreamPlacement(nc, { replicas: config.streamReplicas, streams: credmeshStreamNames(), logger, metrics }).track(
    kvStreamName(KV_BUCKETS.quarantine),
    kvStreamName(RECONCILE_LOCK_BUCKET),
    kvStreamName(RECONCILE_RUNS_BUCKET),
    kvStreamName(PROVED_VERSIONS_BUCKET),
    ...(leases ? [kvStreamName(SECRET_LEASE_BUCKET)] : []),
  );
  await placement.check();

  // Configuration is not a readiness check: it was validated at boot, and an invalid one stopped
  // the process before it listened, so a check here could only say true.
  const ops = opsRoutes(metrics.registry, {
    ...busReadinessChecks(nc, placement),
    quarantine: () => gate.readiness(),
  });
  const server = createServer((req, res) => {
    void ops.handle(req, res).then((handled) => {
      if (!handled) sendJson(res, 404, { error: { code: "not_found", message: "no such endpoint" } });
    });
  });
  server.listen(config.opsPort, config.opsHost);
  await once(server, "listening");
  const address = server.address() as AddressInfo;
  logger.info({ opsPort: address.port, destination: config.destination, rules: config.rules.map((rule) => rule.id) }, "replicator running");

  const busState = reportBusState(nc, metrics, logger);
  onShutdown(logger, async () => {
    busState.stop();
    // Mutations held by a quarantine give up their wait and are handed back (retryable).
    shutdown.abort();
    await quarantineWatch.stop();
    // A run stops publishing and releases its lock; the next run picks up what it left.
    await reconciler.stop();
    // Finish and settle in-flight mutations; anything not acknowledged is redelivered later.
    await consumer.stop();
    await nc.drain();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

await main();
