import { BusPublisher, StreamPlacement, busReadinessChecks, credmeshStreamNames, kvStreamName, openBus, openQuarantineBucket, readQuarantine, reportBusState, runConsumer, whileBusSettles, type NatsConnection, type RunningConsumer } from "@credmesh/bus";
import { KV_BUCKETS } from "@credmesh/bus-names";
import { inboxPrefixOf } from "@credmesh/bus-roles";
import { busSettings } from "@credmesh/config";
import { createLogger } from "@credmesh/logging";
import { createMetrics } from "@credmesh/metrics";
import { exitOnBootFailure, listenOps, onShutdown, opsRoutes } from "@credmesh/runtime";
import { Kvm } from "@nats-io/kv";
import { WATCHER_ACK_WAIT_MS, WATCHER_MAX_DELIVER, ensureWatcherConsumers } from "./bus/consumers.ts";
import { watcherDeadLetters } from "./bus/dead-letters.ts";
import { CertificateScanner } from "./certificates/scanner.ts";
import { CertificateTracker } from "./certificates/tracker.ts";
import { resolveWatcherConfig } from "./config.ts";
import { lifecycleHandler, observationHandler } from "./handlers.ts";
import { PolicyEngine } from "./policies.ts";
import { AwsQuarantineLayer } from "./quarantine/aws-layer.ts";
import { AzureQuarantineLayer } from "./quarantine/azure-layer.ts";
import { serveControl } from "./quarantine/control.ts";
import { QuarantineEnforcer } from "./quarantine/enforcer.ts";
import { QuarantineService } from "./quarantine/service.ts";
import { watcherCredentials } from "./watcher-identity.ts";

/** Boots the identity-watcher: configuration, the bus, state, consumers, scans, the control API. */
async function main(): Promise<void> {
  const bootLogger = createLogger({ service: "identity-watcher" });
  let config;
  try {
    config = resolveWatcherConfig();
  } catch (error) {
    exitOnBootFailure(bootLogger, error);
  }
  const logger = createLogger({ service: "identity-watcher", level: config.logLevel });
  const metrics = createMetrics();
  const cells = new Map(config.cells.map((cell) => [cell.id, cell]));
  const credentials = watcherCredentials(config, metrics, logger);

  let nc: NatsConnection;
  let quarantineKv;
  let stateKv;
  let consumers;
  try {
    nc = await openBus(busSettings(config, "credmesh-identity-watcher", inboxPrefixOf({ kind: "identity-watcher" })), logger);
    // The watcher decides transitions from what it reads: it reads the bucket's leader.
    const bus = nc;
    quarantineKv = await whileBusSettles(() => openQuarantineBucket(bus, config.streamReplicas, { leaderReads: true }), "the quarantine bucket", logger);
    stateKv = await whileBusSettles(
      () =>
        new Kvm(bus).create(KV_BUCKETS.identityState, {
          history: 1,
          replicas: config.streamReplicas,
          description: "credmesh identity-watcher: last judged state per certificate, policy evidence per cell",
        }),
      "the identity state bucket",
      logger,
    );
    consumers = await whileBusSettles(() => ensureWatcherConsumers(bus), "consumers", logger);
  } catch (error) {
    exitOnBootFailure(logger, error);
  }
  const publisher = new BusPublisher(nc, { timeoutMs: 5_000, metrics });

  const service = new QuarantineService({ kv: quarantineKv, nc, publisher, metrics, logger });
  const kvForState = quarantineKv;
  const enforcer = new QuarantineEnforcer({
    cells,
    aws: credentials.aws ? new AwsQuarantineLayer({ credentials: credentials.aws, region: config.aws.stsRegion, ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}) }) : undefined,
    azure: new AzureQuarantineLayer({ credential: credentials.azure, endpoint: config.azure.graphEndpoint, ...(config.azure.caFile ? { caFile: config.azure.caFile } : {}) }),
    read: async (cell) => (await readQuarantine(kvForState, cell)).record,
    metrics,
    logger,
  });
  // A policy's quarantine applies the cloud layers too (an operator's is applied before the reply).
  service.onTransition((cell, record) => {
    if (record.trigger.type === "policy") void enforcer.apply(cell, record, AbortSignal.timeout(config.layerTimeoutMs));
  });
  const policies = new PolicyEngine({ policies: new Map(config.cells.map((cell) => [cell.id, cell.policies])), quarantine: service, kv: stateKv, logger });
  const tracker = new CertificateTracker({
    kv: stateKv,
    publisher,
    metrics,
    logger,
    onTransition: async (cell, event) => {
      await policies.onCertificateTransition(cell, event);
    },
  });

  try {
    await service.announcePending(config.cells.map((cell) => cell.id));
  } catch (error) {
    exitOnBootFailure(logger, error);
  }
  const control = serveControl(nc, { service, enforcer, knownCells: new Set(cells.keys()), layerTimeoutMs: config.layerTimeoutMs, metrics, logger });

  const deadLetter = watcherDeadLetters({ publisher, metrics, logger });
  const run = async (durable: { stream: string; durable: string }, handler: { keyOf(msg: Parameters<RunningConsumerHandle>[0]): string; handle(msg: Parameters<RunningConsumerHandle>[0]): Promise<void> }): Promise<RunningConsumer> =>
    runConsumer(nc, {
      stream: durable.stream,
      durables: [durable.durable],
      concurrency: 4,
      maxDeliver: WATCHER_MAX_DELIVER,
      ackWaitMs: WATCHER_ACK_WAIT_MS,
      // Judging an event and, on a policy's trigger, applying quarantine (each cloud layer bounded
      // by its own timeout) finish well inside this; a hung step must not hold the message.
      deadlineMs: Math.floor((WATCHER_ACK_WAIT_MS * 2) / 3),
      keyOf: (msg) => handler.keyOf(msg),
      handle: (msg) => handler.handle(msg),
      deadLetter,
      logger,
      metrics,
    });
  const [lifecycleConsumer, observationConsumer] = consumers;
  if (!lifecycleConsumer || !observationConsumer) throw new Error("watcher consumers missing");
  const running = [
    await run(lifecycleConsumer, lifecycleHandler({ cells: config.cells, tracker, metrics, logger })),
    await run(observationConsumer, observationHandler({ policies, knownCells: new Set(cells.keys()), metrics, logger })),
  ];

  const scanner = new CertificateScanner({ cells: config.cells, tracker, metrics, logger });
  scanner.start(config.scanIntervalMs);
  enforcer.start(config.enforceIntervalMs, config.layerTimeoutMs);
  const announcer = setInterval(() => {
    service.announcePending(config.cells.map((cell) => cell.id)).catch((error: unknown) => logger.warn({ err: error }, "pending quarantine announcements not checked"));
  }, config.enforceIntervalMs);
  announcer.unref();

  // Streams and buckets checked against CREDMESH_STREAM_REPLICAS: another replica count is reported, never silently used.
  const placement = new StreamPlacement(nc, { replicas: config.streamReplicas, streams: credmeshStreamNames(), logger, metrics }).track(
    kvStreamName(KV_BUCKETS.quarantine),
    kvStreamName(KV_BUCKETS.identityState),
  );
  await placement.check();
  const ops = await listenOps(opsRoutes(metrics.registry, { ...busReadinessChecks(nc, placement), configuration: () => true }), config.opsHost, config.opsPort);
  logger.info({ opsPort: ops.port, cells: config.cells.map((cell) => cell.id), scanIntervalMs: config.scanIntervalMs }, "identity-watcher running");

  const busState = reportBusState(nc, metrics, logger);
  onShutdown(logger, async () => {
    busState.stop();
    clearInterval(announcer);
    for (const subscription of control) subscription.unsubscribe();
    await scanner.stop();
    await enforcer.stop();
    await Promise.all(running.map((consumer) => consumer.stop()));
    await nc.drain();
    await ops.close();
  });
}

type RunningConsumerHandle = Parameters<typeof runConsumer>[1]["handle"];

await main();
