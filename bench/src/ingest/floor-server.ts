/**
 * The floor: the least a durable webhook can do on this machine. A bare `node:http` handler that
 * reads the body, publishes it to JetStream with a message id, awaits the acknowledgement and
 * answers 202 — no authentication, parsing or logging. It runs in its own process, as ingest
 * does, so both pay the same process and socket costs. Started by floor.ts; not a public module.
 *
 * BENCH_FLOOR_TUNED=1 gives it ingest's two transport tunings, which are not ingest's own work:
 * the NATS connection without async stack traces, and publishes deferred to the loop's check phase
 * so that concurrent webhooks share socket writes (services/ingest/src/http/publish-turn.ts).
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

const natsUrl = required("BENCH_NATS_URL");
const port = Number(required("BENCH_FLOOR_PORT"));
const stream = required("BENCH_FLOOR_STREAM");
const subject = required("BENCH_FLOOR_SUBJECT");
const tuned = process.env.BENCH_FLOOR_TUNED === "1";

const nc = await connect({ servers: natsUrl, name: "credmesh-bench-floor", noAsyncTraces: tuned });
const js = jetstream(nc);

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    // The same publish options as ingest's publisher: a message id, a bounded wait, the stream expected.
    const publish = (): void => {
      const id = randomUUID();
      js.publish(subject, Buffer.concat(chunks), { msgID: id, timeout: 3_000, expect: { streamName: stream } }).then(
        () => answer(202, { id }),
        () => answer(503, { error: "bus_unavailable" }),
      );
    };
    if (tuned) setImmediate(publish);
    else publish();
  });
  const answer = (status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  };
});

server.listen(port, "127.0.0.1", () => console.log(`floor listening on ${port}`));

process.once("SIGTERM", () => {
  server.close(() => void nc.drain().finally(() => process.exit(0)));
  // Keep-alive sockets of a finished load run would hold close() open.
  server.closeAllConnections();
});

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (floor-server.ts is started by the bench)`);
  return value;
}
