import { EnvReader, loadRules, readCommonConfig, type CommonConfig, type RuleSet } from "@credmesh/config";
import type { Sensitive } from "@credmesh/logging";
import { readEventGridConfig, type EventGridConfig } from "./eventgrid-config.ts";

/**
 * Ingest configuration, resolved and validated at boot from the environment. Every setting is in
 * the README's configuration reference.
 */
export interface IngestConfig extends CommonConfig {
  host: string;
  port: number;
  rules: RuleSet;
  /** Largest accepted request body. EventBridge events are at most 256 KB. */
  bodyLimitBytes: number;
  /** How long one publish attempt waits for the JetStream acknowledgement. */
  publishTimeoutMs: number;
  /**
   * How long an EventBridge delivery's publish keeps retrying (same message id) while JetStream
   * cannot take it — a stream leader election — before it is answered 503: EventBridge waits 5 s.
   */
  eventBridgePublishWindowMs: number;
  eventBridge: {
    /** Header carrying the API key (the connection's ApiKeyName). */
    apiKeyHeader: string;
    /** Accepted API keys; several at once so keys can be rotated without downtime. */
    apiKeys: Sensitive<string>[];
    /** Accepted Basic credentials as `user:password`. */
    basicCredentials: Sensitive<string>[];
  };
  /** The Azure Event Grid webhook; undefined when CREDMESH_EVENTGRID_AUTH is unset (disabled). */
  eventGrid: EventGridConfig | undefined;
}

export function resolveIngestConfig(env: Readonly<Record<string, string | undefined>> = process.env): IngestConfig {
  const read = new EnvReader(env);
  const config: IngestConfig = {
    ...readCommonConfig(read),
    host: read.string("CREDMESH_INGEST_HOST", { default: "127.0.0.1" }),
    port: read.int("CREDMESH_INGEST_PORT", { default: 8080, min: 0, max: 65_535 }),
    rules: [],
    bodyLimitBytes: read.int("CREDMESH_INGEST_BODY_LIMIT_BYTES", { default: 262_144, min: 1_024, max: 1_048_576 }),
    publishTimeoutMs: read.int("CREDMESH_PUBLISH_TIMEOUT_MS", { default: 3_000, min: 100, max: 30_000 }),
    eventBridgePublishWindowMs: read.int("CREDMESH_EVENTBRIDGE_PUBLISH_WINDOW_MS", { default: 4_000, min: 0, max: 4_800 }),
    eventBridge: {
      apiKeyHeader: read.string("CREDMESH_EVENTBRIDGE_API_KEY_HEADER", {
        default: "x-api-key",
        pattern: /^[A-Za-z0-9-]{1,64}$/,
        hint: "an HTTP header name",
      }).toLowerCase(),
      apiKeys: read.secretList("CREDMESH_EVENTBRIDGE_API_KEYS"),
      basicCredentials: read.secretList("CREDMESH_EVENTBRIDGE_BASIC_CREDENTIALS"),
    },
    eventGrid: readEventGridConfig(read, env),
  };
  if (config.eventBridge.apiKeys.length === 0 && config.eventBridge.basicCredentials.length === 0) {
    read.problem("set CREDMESH_EVENTBRIDGE_API_KEYS or CREDMESH_EVENTBRIDGE_BASIC_CREDENTIALS: unauthenticated webhooks are refused");
  }
  if (config.eventBridge.basicCredentials.some((credential) => !credential.reveal().includes(":"))) {
    read.problem("CREDMESH_EVENTBRIDGE_BASIC_CREDENTIALS entries must be user:password (values not shown)");
  }
  read.done();
  return { ...config, rules: loadRules(config.rulesFile) };
}
