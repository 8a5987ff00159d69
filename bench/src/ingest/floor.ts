import { fileURLToPath } from "node:url";
import type { JetStreamManager } from "@nats-io/jetstream";
import { DEFAULT_STREAM_SETTINGS, streamConfigs } from "@credmesh/bus";
import { ManagedProcess } from "../../../test/support/managed-process.ts";
import { freePort } from "../../../test/support/ports.ts";
import { loadTools } from "../../../test/support/tools.ts";
import { DELIVERY_HEADERS, type Target } from "./target.ts";

const FLOORS = {
  floor: { stream: "BENCH_FLOOR", subject: "bench.floor", tuned: false },
  "tuned floor": { stream: "BENCH_FLOOR_TUNED", subject: "bench.floor-tuned", tuned: true },
} as const;

/**
 * Creates a floor's stream and starts floor-server.ts in a child process: the bare floor of SPEC §8,
 * or the tuned floor (ingest's transport tunings, none of ingest's work). The stream copies the
 * mutation stream's settings (file storage, replicas, duplicate window) so that the floor pays for
 * the same durability as ingest does. `env` adds to the child's environment (NODE_OPTIONS for
 * `--profile`).
 */
export async function startFloor(
  name: keyof typeof FLOORS,
  natsUrl: string,
  jsm: JetStreamManager,
  env: Record<string, string> = {},
): Promise<Target> {
  const floor = FLOORS[name];
  await jsm.streams.add({ ...streamConfigs(DEFAULT_STREAM_SETTINGS).mutations, name: floor.stream, subjects: [floor.subject] });
  const port = await freePort();
  const child = new ManagedProcess(name, loadTools().node, [fileURLToPath(new URL("floor-server.ts", import.meta.url))], {
    env: {
      PATH: process.env.PATH ?? "",
      BENCH_NATS_URL: natsUrl,
      BENCH_FLOOR_PORT: String(port),
      BENCH_FLOOR_STREAM: floor.stream,
      BENCH_FLOOR_SUBJECT: floor.subject,
      BENCH_FLOOR_TUNED: floor.tuned ? "1" : "0",
      ...env,
    },
  });
  await child.waitForLine(/floor listening/);
  return {
    name,
    url: `http://127.0.0.1:${port}/webhooks/eventbridge`,
    headers: { ...DELIVERY_HEADERS },
    stream: floor.stream,
    process: child,
    stop: () => child.stop(),
  };
}
