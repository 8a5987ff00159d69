import { fileURLToPath } from "node:url";
import type { JetStreamManager } from "@nats-io/jetstream";
import { DEFAULT_STREAM_SETTINGS, streamConfigs } from "@credmesh/bus";
import { ManagedProcess } from "../../test/support/managed-process.ts";
import { freePort } from "../../test/support/ports.ts";
import { loadTools } from "../../test/support/tools.ts";
import { DELIVERY_HEADERS, type Target } from "./target.ts";

const STREAM = "BENCH_FLOOR";
const SUBJECT = "bench.floor";

/**
 * Creates the floor's stream and starts floor-server.ts in a child process. The stream copies the
 * mutation stream's settings (file storage, replicas, duplicate window) so that the floor pays
 * for the same durability as ingest does.
 */
export async function startFloor(natsUrl: string, jsm: JetStreamManager): Promise<Target> {
  await jsm.streams.add({ ...streamConfigs(DEFAULT_STREAM_SETTINGS).mutations, name: STREAM, subjects: [SUBJECT] });
  const port = await freePort();
  const child = new ManagedProcess("floor", loadTools().node, [fileURLToPath(new URL("floor-server.ts", import.meta.url))], {
    env: {
      PATH: process.env.PATH ?? "",
      BENCH_NATS_URL: natsUrl,
      BENCH_FLOOR_PORT: String(port),
      BENCH_FLOOR_STREAM: STREAM,
      BENCH_FLOOR_SUBJECT: SUBJECT,
    },
  });
  await child.waitForLine(/floor listening/);
  return {
    name: "floor",
    url: `http://127.0.0.1:${port}/webhooks/eventbridge`,
    headers: { ...DELIVERY_HEADERS },
    stream: STREAM,
    process: child,
    stop: () => child.stop(),
  };
}
