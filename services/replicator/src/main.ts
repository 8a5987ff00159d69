import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  BusPublisher,
  busReadinessChecks,
  openBus,
  ensureReplicatorConsumer,
  runConsumer,
  type NatsConnection,
  type RunningConsumer,
} from "@credmesh/bus";
import { busSettings } from "@credmesh/config";
import { RetryBudget } from "@credmesh/errors";
import type { AwsOrigin } from "@credmesh/events";
import { ManagedIdentityTokenSource, managedIdentityCredential, webIdentityCredentials } from "@credmesh/identity";
import { createLogger } from "@credmesh/logging";
import { createMetrics } from "@credmesh/metrics";
import { STREAMS, replicatorDurable } from "@credmesh/names";
import { exitOnBootFailure, onShutdown, opsRoutes, sendJson } from "@credmesh/runtime";
import { KeyVaultVault, SecretsManagerVault, createKeyVaultClient, type VaultPort } from "@credmesh/vault";
import { applyAwsToAzure } from "./azure/aws-to-azure.ts";
import { resolveReplicatorConfig } from "./config.ts";
import { createHandlers } from "./consumer-handler.ts";

/** Boots a replicator cell for destination Azure. */
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

  // Identity: one managed identity; its token goes to Key Vault directly and to STS for AWS.
  const identity = new ManagedIdentityTokenSource(
    { endpoint: config.azure.identityEndpoint, ...(config.azure.clientId ? { clientId: config.azure.clientId } : {}) },
    { metrics, logger },
  );
  const awsCredentials = webIdentityCredentials(
    {
      roleArn: config.aws.roleArn,
      sessionName: `credmesh-${config.cell}`,
      durationSeconds: config.aws.sessionDurationSeconds,
      region: config.aws.stsRegion,
      ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}),
    },
    async () => (await identity.getToken(config.azure.tokenAudience)).token,
    { metrics, logger },
  );
  const azureCredential = managedIdentityCredential(identity);

  const sources = new Map<string, VaultPort>();
  const destinations = new Map<string, VaultPort>();
  const sourceFor = (origin: AwsOrigin): VaultPort => {
    const key = `${origin.account}/${origin.region}`;
    let vault = sources.get(key);
    if (!vault) {
      const client = new SecretsManagerClient({
        region: origin.region,
        credentials: awsCredentials,
        maxAttempts: 1,
        ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}),
      });
      vault = new SecretsManagerVault(client, metrics);
      sources.set(key, vault);
    }
    return vault;
  };
  const destinationFor = (vaultUrl: string): VaultPort => {
    let vault = destinations.get(vaultUrl);
    if (!vault) {
      const client = createKeyVaultClient({
        vaultUrl,
        credential: azureCredential,
        ...(config.azure.caFile ? { caFile: config.azure.caFile } : {}),
        disableChallengeResourceVerification: config.azure.disableChallengeResourceVerification,
      });
      vault = new KeyVaultVault(client, { metrics, pollIntervalMs: config.azure.pollIntervalMs });
      destinations.set(vaultUrl, vault);
    }
    return vault;
  };

  let nc: NatsConnection;
  try {
    nc = await openBus(busSettings(config, `credmesh-replicator-${config.cell}`), logger);
    await ensureReplicatorConsumer(nc, config.destination, {
      maxDeliver: config.maxDeliver,
      ackWaitMs: config.ackWaitMs,
      maxAckPending: config.maxAckPending,
    });
  } catch (error) {
    exitOnBootFailure(logger, error);
  }

  const publisher = new BusPublisher(nc, { timeoutMs: 5_000, partitions: config.partitions, metrics });
  const budget = new RetryBudget();
  const handlers = createHandlers({
    destination: config.destination,
    cell: config.cell,
    apply: (event, log) =>
      applyAwsToAzure(event, { rules: config.rules, sourceFor, destinationFor, contentHashKey: config.contentHashKey, budget }, log),
    publisher,
    metrics,
    logger,
  });
  const consumer: RunningConsumer = await runConsumer(nc, {
    stream: STREAMS.mutations.name,
    durable: replicatorDurable(config.destination),
    concurrency: config.concurrency,
    maxDeliver: config.maxDeliver,
    ackWaitMs: config.ackWaitMs,
    keyOf: handlers.keyOf,
    handle: handlers.handle,
    deadLetter: handlers.deadLetter,
    onRetry: handlers.onRetry,
    logger,
    metrics,
  });

  const ops = opsRoutes(metrics.registry, {
    ...busReadinessChecks(nc),
    configuration: () => true,
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

  onShutdown(logger, async () => {
    // Finish and settle in-flight mutations; anything not acknowledged is redelivered later.
    await consumer.stop();
    await nc.drain();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

await main();
