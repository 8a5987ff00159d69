import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { BusPublisher, StreamPlacement, busReadinessChecks, credmeshStreamNames, openBus, reportBusState, type NatsConnection } from "@credmesh/bus";
import { inboxPrefixOf } from "@credmesh/bus-roles";
import { busSettings, isAzureToAws } from "@credmesh/config";
import { createLogger } from "@credmesh/logging";
import { createMetrics } from "@credmesh/metrics";
import { exitOnBootFailure, onShutdown, opsRoutes } from "@credmesh/runtime";
import { EventBridgeAuthenticator } from "./auth/eventbridge-auth.ts";
import { createEventGridAuthenticator } from "./auth/eventgrid-auth.ts";
import { resolveIngestConfig } from "./config.ts";
import { createIngestServer } from "./http/server.ts";

/** Boots ingest: configuration first (fail fast), then the bus and streams, then the listener. */
async function main(): Promise<void> {
  const bootLogger = createLogger({ service: "ingest" });
  let config;
  try {
    config = resolveIngestConfig();
  } catch (error) {
    exitOnBootFailure(bootLogger, error);
  }
  const logger = createLogger({ service: "ingest", level: config.logLevel });
  const metrics = createMetrics();
  let nc: NatsConnection;
  try {
    nc = await openBus(busSettings(config, "credmesh-ingest", inboxPrefixOf({ kind: "ingest" })), logger);
  } catch (error) {
    exitOnBootFailure(logger, error);
  }
  // The streams as they are, checked against CREDMESH_STREAM_REPLICAS (reported, never silently used).
  const placement = new StreamPlacement(nc, { replicas: config.streamReplicas, streams: credmeshStreamNames(), logger, metrics });
  await placement.check();
  // Each webhook's publishes ride out a leader election for as long as its sender waits for an
  // answer (same message id on every attempt), and only then answer 503.
  const publisher = new BusPublisher(nc, { timeoutMs: config.publishTimeoutMs, retryWindowMs: config.eventBridgePublishWindowMs, partitions: config.partitions, metrics });
  const eventGridPublisher =
    config.eventGrid === undefined
      ? undefined
      : new BusPublisher(nc, { timeoutMs: config.publishTimeoutMs, retryWindowMs: config.eventGrid.publishWindowMs, partitions: config.partitions, metrics });
  const eventGridAuth = config.eventGrid === undefined ? undefined : createEventGridAuthenticator(config.eventGrid.auth);
  const server = createIngestServer({
    auth: new EventBridgeAuthenticator(config.eventBridge),
    publisher,
    rules: config.rules,
    bodyLimitBytes: config.bodyLimitBytes,
    metrics,
    logger,
    ...(config.eventGrid === undefined || eventGridAuth === undefined || eventGridPublisher === undefined
      ? {}
      : {
          eventGrid: {
            auth: eventGridAuth,
            publisher: eventGridPublisher,
            rules: config.rules,
            bodyLimitBytes: config.eventGrid.bodyLimitBytes,
            publishConcurrency: config.eventGrid.publishConcurrency,
            allowedOrigins: config.eventGrid.allowedOrigins,
            metrics,
            logger,
          },
        }),
    // Configuration is not a readiness check: it was validated before anything started, and an
    // invalid one stopped the process with a fatal log line, so a check here could only say true.
    ops: opsRoutes(metrics.registry, busReadinessChecks(nc, placement)),
  });
  server.listen(config.port, config.host);
  await once(server, "listening");
  const address = server.address() as AddressInfo;
  logger.info(
    {
      host: address.address,
      port: address.port,
      rules: config.rules.map((rule) => rule.id),
      eventGrid: config.eventGrid === undefined ? "disabled" : config.eventGrid.auth.mode,
    },
    "ingest listening",
  );
  if (config.eventGrid === undefined && config.rules.some(isAzureToAws)) {
    logger.warn("Azure → AWS rules are configured but the Event Grid webhook is disabled (CREDMESH_EVENTGRID_AUTH): Key Vault changes reach AWS only through anti-entropy");
  }
  // Load the token issuers' keys now, so the first delivery does not wait for them. A failure is
  // not fatal: deliveries get 503 (Event Grid retries) until the keys can be loaded.
  eventGridAuth?.warmUp().then(
    () => logger.info({ mode: eventGridAuth.mode }, "Event Grid authentication ready"),
    (error: unknown) => logger.warn({ err: error }, "Event Grid signing keys could not be loaded yet; deliveries get 503 until they can"),
  );

  const busState = reportBusState(nc, metrics, logger);
  onShutdown(logger, async () => {
    busState.stop();
    // Stop accepting, let in-flight webhooks finish their publish, then drain the connection.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await nc.drain();
  });
}

await main();
