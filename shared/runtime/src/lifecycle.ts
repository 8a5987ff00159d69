import type { Logger } from "@credmesh/logging";

/**
 * Runs `shutdown` once on SIGTERM / SIGINT, with a hard deadline so a stuck drain cannot keep a
 * pod from terminating. In-flight work is finished or left unacknowledged (and so redelivered),
 * never dropped.
 */
export function onShutdown(logger: Logger, shutdown: () => Promise<void>, deadlineMs = 20_000): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      logger.error({ deadlineMs }, "shutdown deadline passed; exiting");
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    shutdown()
      .then(() => {
        logger.info("stopped");
        logger.flush();
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      });
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

/** Logs a fatal boot error (ConfigError issues included) and exits non-zero. */
export function exitOnBootFailure(logger: Logger, error: unknown): never {
  const issues = (error as { issues?: unknown }).issues;
  logger.fatal({ err: error, ...(Array.isArray(issues) ? { issues } : {}) }, "failed to start");
  logger.flush();
  process.exit(1);
}
