/**
 * An application that reads one secret in a loop through the failover client — all the code an
 * application needs: no cloud SDK, no fallback logic. Configuration comes from the environment
 * (`CREDMESH_CLIENT_*`, see shared/client/README.md) plus:
 *
 *   CREDMESH_APP_SECRET_NAME     the secret's logical name (its name at the origin)     required
 *   CREDMESH_APP_INTERVAL_MS     pause between reads                                      1000
 *   CREDMESH_APP_READS           reads before exiting; 0 reads until SIGTERM              0
 *   CREDMESH_APP_METRICS_PORT    serve the client's metrics on 127.0.0.1:<port>/metrics   off
 *   CREDMESH_APP_FINGERPRINT_KEY print HMAC-SHA256(key, value) (first 16 hex digits) of every value
 *                                read, so a test can compare values without anyone printing one
 *
 * Every read is one JSON log line: where the value came from, never the value.
 */
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import { pino } from "pino";
import { FailoverClient, Registry, clientOptionsFromEnv, type SecretRead } from "@credmesh/client";

const logger = pino({ base: { service: "example-failover-app" }, timestamp: pino.stdTimeFunctions.isoTime });
const name = process.env.CREDMESH_APP_SECRET_NAME ?? "";
if (name === "") {
  logger.fatal("CREDMESH_APP_SECRET_NAME is required");
  process.exit(2);
}
const intervalMs = Number(process.env.CREDMESH_APP_INTERVAL_MS ?? 1_000);
const reads = Number(process.env.CREDMESH_APP_READS ?? 0);
const fingerprintKey = process.env.CREDMESH_APP_FINGERPRINT_KEY;

const registry = new Registry();
const client = new FailoverClient({ ...clientOptionsFromEnv(), logger, metrics: { registry } });

const metricsPort = process.env.CREDMESH_APP_METRICS_PORT;
const metricsServer = metricsPort
  ? createServer((req, res) => {
      void registry.metrics().then((text) => {
        res.writeHead(req.url === "/metrics" ? 200 : 404, { "content-type": registry.contentType });
        res.end(req.url === "/metrics" ? text : "");
      });
    }).listen(Number(metricsPort), "127.0.0.1")
  : undefined;

const stopping = new AbortController();
for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => stopping.abort());

logger.info({ name, intervalMs, breakers: client.breakerStates() }, "example app reading");
for (let seq = 1; (reads === 0 || seq <= reads) && !stopping.signal.aborted; seq++) {
  const startedAt = Date.now();
  try {
    const read = await client.get(name);
    logger.info({ seq, startedAt, durationMs: Date.now() - startedAt, read: summary(read) }, "secret read");
  } catch (error) {
    const failure = error instanceof Error && "toRecord" in error ? (error as { toRecord(): object }).toRecord() : { message: "unexpected failure" };
    logger.error({ seq, startedAt, durationMs: Date.now() - startedAt, failure }, "secret read failed");
  }
  await delay(intervalMs, undefined, { signal: stopping.signal }).catch(() => undefined);
}
client.close();
metricsServer?.close();
logger.info("example app stopped");

/** The read as it may be logged: everything but the value, plus the keyed fingerprint when asked for. */
function summary(read: SecretRead): object {
  const { value, ...report } = read;
  return fingerprintKey ? { ...report, fingerprint: createHmac("sha256", fingerprintKey).update(value.reveal(), "utf8").digest("hex").slice(0, 16) } : report;
}
