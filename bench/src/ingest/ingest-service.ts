import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STREAMS } from "@credmesh/bus-names";
import { freePort } from "../../../test/support/ports.ts";
import { startService } from "../../../test/support/services.ts";
import { BENCH_SECRET } from "./events.ts";
import { DELIVERY_HEADERS, type Target } from "./target.ts";

const API_KEY_HEADER = "x-api-key";

/**
 * Starts the real ingest service through the test harness, as an operator would run it: one rule
 * that puts the bench secret in scope, one EventBridge API key, and the operator's default log
 * level (info), so whatever ingest logs by default is part of what is measured. `env` adds to its
 * environment (NODE_OPTIONS for `--profile`).
 */
export async function startIngest(natsUrl: string, env: Record<string, string> = {}): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), "credmesh-bench-"));
  const rulesFile = join(dir, "rules.yaml");
  await writeFile(
    rulesFile,
    [
      "rules:",
      "  - id: bench-aws-to-azure",
      "    source:",
      "      cloud: aws",
      `      accounts: ["${BENCH_SECRET.account}"]`,
      `      regions: ["${BENCH_SECRET.region}"]`,
      '      namePrefixes: ["prod/"]',
      "    destination:",
      "      cloud: azure",
      // Ingest only checks scope and never calls the destination; loopback all the same.
      "      vaultUrl: https://127.0.0.1:9/",
      "",
    ].join("\n"),
  );
  const apiKey = randomBytes(24).toString("base64url");
  const port = await freePort();
  const child = await startService(
    "ingest",
    {
      CREDMESH_NATS_URL: natsUrl,
      // The floor publishes over a bare plaintext connection; ingest uses the same, so the two compare.
      CREDMESH_NATS_PLAINTEXT: "true",
      CREDMESH_RULES_FILE: rulesFile,
      CREDMESH_INGEST_PORT: String(port),
      CREDMESH_LOG_LEVEL: "info",
      CREDMESH_EVENTBRIDGE_API_KEY_HEADER: API_KEY_HEADER,
      CREDMESH_EVENTBRIDGE_API_KEYS: apiKey,
      ...env,
    },
    /ingest listening/,
  );
  return {
    name: "ingest",
    url: `http://127.0.0.1:${port}/webhooks/eventbridge`,
    headers: { ...DELIVERY_HEADERS, [API_KEY_HEADER]: apiKey },
    stream: STREAMS.mutations.name,
    process: child,
    async stop() {
      await child.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
