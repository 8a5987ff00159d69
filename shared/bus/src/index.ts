export { busReachable, connectBus, isConnected, type BusConnectionConfig, type NatsConnection } from "./connection.ts";
export {
  DEFAULT_CONSUMER_SETTINGS,
  DEFAULT_STREAM_SETTINGS,
  busReadinessChecks,
  ensureReplicatorConsumers,
  ensureStreams,
  replicatorConsumerConfig,
  credmeshStreamNames,
  streamConfigs,
  type ReplicatorConsumerSettings,
  type StreamSettings,
} from "./provisioning.ts";
export { openBus, whileBusSettles, type BusSettings } from "./open.ts";
export { StreamPlacement, judgeStream, kvStreamName, type StreamFinding } from "./placement.ts";
export { BusPublisher, type PublishResult, type PublisherOptions } from "./publisher.ts";
export { settle, type Settlement } from "./settlement.ts";
export { KeyedExecutor } from "./keyed-executor.ts";
export { runConsumer, type ConsumerRunOptions, type JsMsg, type RunningConsumer } from "./consumer.ts";
export { openQuarantineBucket, quarantineOf, readQuarantine, type KV, type KvEntry } from "./quarantine-kv.ts";
