import { cellKey } from "@credmesh/bus-names";
import { quarantineOf, type KV, type KvEntry, type NatsConnection } from "@credmesh/bus";
import type { Logger } from "@credmesh/logging";
import { GATE_STATE } from "@credmesh/metrics";
import type { GateView, QuarantineGate } from "./quarantine-gate.ts";

export interface QuarantineWatchOptions {
  /** How often the state is read again besides the watch: the longest a broken watch goes unnoticed. */
  recheckMs: number;
}

/**
 * Feeds a cell's {@link QuarantineGate} from the quarantine bucket: a KV watch of the cell's key
 * (a change reaches the gate within milliseconds), plus a read every `recheckMs` that catches a
 * watch that silently stopped. The gate fails closed (`unknown`) whenever the state cannot be
 * read: a lost NATS connection, a failed read, a value that is not a valid record.
 *
 * On a cluster, a read may be answered by a replica of the bucket that is behind (KV reads are
 * "direct gets", served by any replica), e.g. a node just back from a pause. So the state never
 * goes back in time: the watch (the stream's own order) is always followed, and a read is followed
 * only if its revision is not older than what the gate already shows.
 */
export async function watchQuarantine(
  nc: NatsConnection,
  kv: KV,
  gate: QuarantineGate,
  logger: Logger,
  options: QuarantineWatchOptions,
): Promise<{ stop(): Promise<void> }> {
  const key = cellKey(gate.cell);
  let stopped = false;
  let revision = 0;
  const apply = (entry: KvEntry | null, from: "watch" | "read"): void => {
    if (from === "read" && (entry?.revision ?? 0) < revision) {
      logger.debug({ key, read: entry?.revision ?? 0, shown: revision }, "quarantine read older than the state shown; ignored");
      return;
    }
    if (entry !== null) revision = entry.revision;
    let view: GateView;
    try {
      const { record } = quarantineOf(entry);
      view = record?.state === "quarantined" ? { state: GATE_STATE.quarantined, record } : { state: GATE_STATE.open };
    } catch (error) {
      logger.error({ err: error, key }, "quarantine record unreadable; failing closed");
      view = { state: GATE_STATE.unknown, why: "the quarantine record is not valid" };
    }
    const before = gate.view.state;
    gate.set(view);
    if (before !== view.state) logger.warn({ gate: view.state, previous: before, ...(view.state === GATE_STATE.quarantined ? { reason: view.record.reason, by: view.record.by, at: view.record.at } : {}) }, "quarantine gate changed");
  };
  // After a failed read the next one comes soon (250 ms, doubling up to `recheckMs`), not a whole
  // `recheckMs` later: a read fails for a moment when the bucket was just created on a cluster
  // (its replicas not answering direct gets yet) or during a leader election, and the gate should
  // not stay closed for longer than the bus is unavailable.
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  const recheck = async (): Promise<void> => {
    clearTimeout(retry);
    try {
      apply(await kv.get(key), "read");
      failures = 0;
    } catch (error) {
      logger.warn({ err: error }, "quarantine state cannot be read; failing closed");
      gate.set({ state: GATE_STATE.unknown, why: "the quarantine bucket cannot be read" });
      failures++;
      if (!stopped) {
        retry = setTimeout(() => void recheck(), Math.min(options.recheckMs, 250 * 2 ** (failures - 1)));
        retry.unref();
      }
    }
  };

  await recheck();
  const timer = setInterval(() => void recheck(), options.recheckMs);
  timer.unref();

  let watcher: Awaited<ReturnType<KV["watch"]>> | undefined;
  const follow = async (): Promise<void> => {
    while (!stopped) {
      try {
        watcher = await kv.watch({ key });
        for await (const entry of watcher) apply(entry, "watch");
      } catch (error) {
        if (stopped) return;
        logger.warn({ err: error }, "quarantine watch ended; restarting");
      }
      if (stopped) return;
      await recheck();
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };
  const following = follow();

  const statuses = (async () => {
    for await (const status of nc.status()) {
      if (stopped) return;
      if (status.type === "disconnect") gate.set({ state: GATE_STATE.unknown, why: "the NATS connection is lost" });
      if (status.type === "reconnect") void recheck();
    }
  })();

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(retry);
      watcher?.stop();
      await following.catch(() => undefined);
      void statuses;
    },
  };
}
