import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager, type StoredMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { STREAMS } from "@credmesh/bus-names";
import type { SecretRef } from "../../support/eventbridge.ts";
import { ManagedProcess } from "../../support/managed-process.ts";
import { freePort } from "../../support/ports.ts";
import { REPO_ROOT, startService } from "../../support/services.ts";
import { loadTools } from "../../support/tools.ts";
import { parsePrometheusText, type Scrape } from "./prometheus-text.ts";

export const AWS_ACCOUNT = "123456789012";
export const AWS_REGION = "eu-west-1";
export const RULE_ID = "aws-to-azure";
export const IN_SCOPE_PREFIX = "prod/";

/** A secret covered by the rule written by {@link writeRulesFile}; ingest never calls AWS, so it need not exist. */
export function inScopeSecret(name: string): SecretRef {
  return {
    name: `${IN_SCOPE_PREFIX}${name}`,
    arn: `arn:aws:secretsmanager:${AWS_REGION}:${AWS_ACCOUNT}:secret:${IN_SCOPE_PREFIX}${name}-${randomBytes(3).toString("hex")}`,
    account: AWS_ACCOUNT,
    region: AWS_REGION,
  };
}

/** One AWS → Azure rule, as an operator writes it. `account` lets a test write a broken one. */
export async function writeRulesFile(dir: string, options: { account?: string } = {}): Promise<string> {
  const file = join(dir, "rules.yaml");
  await writeFile(
    file,
    [
      "rules:",
      `  - id: ${RULE_ID}`,
      "    source:",
      "      cloud: aws",
      `      accounts: ["${options.account ?? AWS_ACCOUNT}"]`,
      `      regions: ["${AWS_REGION}"]`,
      `      namePrefixes: ["${IN_SCOPE_PREFIX}"]`,
      "    destination:",
      "      cloud: azure",
      "      vaultUrl: https://credmesh-it.vault.azure.net",
      "",
    ].join("\n"),
  );
  return file;
}

/** The connection credentials EventBridge would be configured with: two API keys (a rotation) and Basic. */
export interface IngestCredentials {
  /** Configured as `X-Credmesh-Key`; ingest must treat header names case-insensitively. */
  apiKeyHeader: string;
  apiKeys: [string, string];
  basicUser: string;
  basicPassword: string;
}

export function newCredentials(): IngestCredentials {
  return {
    apiKeyHeader: "X-Credmesh-Key",
    apiKeys: [randomBytes(24).toString("base64url"), randomBytes(24).toString("base64url")],
    basicUser: "eventbridge",
    basicPassword: randomBytes(18).toString("base64url"),
  };
}

export function credentialEnv(credentials: IngestCredentials): Record<string, string> {
  return {
    CREDMESH_EVENTBRIDGE_API_KEY_HEADER: credentials.apiKeyHeader,
    CREDMESH_EVENTBRIDGE_API_KEYS: credentials.apiKeys.join(","),
    CREDMESH_EVENTBRIDGE_BASIC_CREDENTIALS: `${credentials.basicUser}:${credentials.basicPassword}`,
  };
}

export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`;
}

/** The ingest process under test, listening on a loopback port. */
export interface Ingest {
  process: ManagedProcess;
  url: string;
  rulesFile: string;
  stop(): Promise<void>;
}

/** Starts `node services/ingest/src/main.ts` with a rules file of its own and `env` on top. */
export async function startIngest(env: Record<string, string>): Promise<Ingest> {
  const dir = await mkdtemp(join(tmpdir(), "credmesh-ingest-it-"));
  const rulesFile = await writeRulesFile(dir);
  const port = await freePort();
  const process = await startService(
    "ingest",
    { CREDMESH_RULES_FILE: rulesFile, CREDMESH_INGEST_PORT: String(port), CREDMESH_LOG_LEVEL: "debug", ...env },
    /ingest listening/,
  );
  return {
    process,
    url: `http://127.0.0.1:${port}`,
    rulesFile,
    async stop() {
      await process.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts ingest expecting it to refuse to boot; resolves with its exit code once it has exited.
 * The NATS URL points at a closed port: configuration must be refused before any connection.
 */
export async function bootIngestExpectingFailure(env: Record<string, string>): Promise<{ code: number | null; lines: string[] }> {
  const tools = loadTools();
  const child = new ManagedProcess("ingest", tools.node, ["services/ingest/src/main.ts"], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      CREDMESH_INGEST_PORT: String(await freePort()),
      CREDMESH_NATS_URL: `tls://127.0.0.1:${await freePort()}`,
      ...env,
    },
  });
  const code = await child.exited;
  return { code, lines: child.lines };
}

export interface Delivery {
  status: number;
  headers: Headers;
  /** The parsed JSON body (every ingest answer is JSON). */
  body: Record<string, unknown>;
  elapsedMs: number;
}

export interface DeliveryOptions {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  /** Sent as is; objects are JSON-encoded. */
  body?: unknown;
  /** Sends the body with chunked transfer encoding (no Content-Length). */
  chunked?: boolean;
}

/** One HTTP exchange with ingest, shaped like an EventBridge API-destination invocation. */
export async function deliver(baseUrl: string, options: DeliveryOptions = {}): Promise<Delivery> {
  const method = options.method ?? "POST";
  const raw = options.body === undefined ? undefined : typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  const init: RequestInit & { duplex?: "half" } = {
    method,
    headers: {
      // What EventBridge always sends (FORMATS.md B).
      "content-type": "application/json; charset=utf-8",
      "user-agent": "Amazon/EventBridge/ApiDestinations",
      ...options.headers,
    },
    signal: AbortSignal.timeout(15_000),
  };
  if (raw !== undefined && options.chunked) {
    const bytes = new TextEncoder().encode(raw);
    init.body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < bytes.length; offset += 8_192) controller.enqueue(bytes.subarray(offset, offset + 8_192));
        controller.close();
      },
    });
    init.duplex = "half";
  } else if (raw !== undefined) {
    init.body = raw;
  }
  const started = performance.now();
  const response = await fetch(`${baseUrl}${options.path ?? "/webhooks/eventbridge"}`, init);
  const text = await response.text();
  const elapsedMs = performance.now() - started;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${method} ${options.path ?? "/webhooks/eventbridge"} answered ${response.status} with a non-JSON body: ${text.slice(0, 200)}`);
  }
  return { status: response.status, headers: response.headers, body, elapsedMs };
}

export async function scrape(baseUrl: string): Promise<Scrape> {
  const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return parsePrometheusText(await response.text());
}

export async function metricsText(baseUrl: string): Promise<string> {
  return (await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
}

/** The number of messages in the mutations stream: what "changes nothing on the bus" is measured by. */
export async function mutationCount(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(STREAMS.mutations.name)).state.messages;
}

/** Every message stored in the mutations stream, in order. */
export async function storedMutations(nc: NatsConnection): Promise<StoredMsg[]> {
  const jsm = await jetstreamManager(nc);
  const { first_seq: first, last_seq: last, messages } = (await jsm.streams.info(STREAMS.mutations.name)).state;
  const out: StoredMsg[] = [];
  if (messages === 0) return out;
  for (let seq = first; seq <= last; seq++) {
    const message = await jsm.streams.getMessage(STREAMS.mutations.name, { seq });
    if (message) out.push(message);
  }
  return out;
}
