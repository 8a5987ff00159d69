import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { BusPublisher, busReadinessChecks, openBus, type NatsConnection } from "@credmesh/bus";
import { busSettings } from "@credmesh/config";
import { createLogger } from "@credmesh/logging";
import { createMetrics } from "@credmesh/metrics";
import { exitOnBootFailure, onShutdown, opsRoutes } from "@credmesh/runtime";
import { EventBridgeAuthenticator } from "./auth/eventbridge-auth.ts";
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
    nc = await openBus(busSettings(config, "credmesh-ingest"), logger);
  } catch (error) {
    exitOnBootFailure(logger, error);
  }
  const server = createIngestServer({
    auth: new EventBridgeAuthenticator(config.eventBridge),
    publisher: new BusPublisher(nc, { timeoutMs: config.publishTimeoutMs, partitions: config.partitions, metrics }),
    rules: config.rules,
    bodyLimitBytes: config.bodyLimitBytes,
    metrics,
    logger,
    ops: opsRoutes(metrics.registry, {
      ...busReadinessChecks(nc),
      configuration: () => true,
    }),
  });
  server.listen(config.port, config.host);
  await once(server, "listening");
  const address = server.address() as AddressInfo;
  logger.info({ host: address.address, port: address.port, rules: config.rules.map((rule) => rule.id) }, "ingest listening");

  onShutdown(logger, async () => {
    // Stop accepting, let in-flight webhooks finish their publish, then drain the connection.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await nc.drain();
  });
}

await main();
