export { busReachable, connectBus, connectionOptions, isConnected, type BusAuthentication, type BusConnectionConfig, type NatsConnection } from "./connection.ts";
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
  type StreamDrift,
  type StreamsOutcome,
  type StreamSettings,
} from "./provisioning.ts";
export { openBus, whileBusSettles, type BusSettings } from "./open.ts";
export { StreamPlacement, judgeStream, kvStreamName, type StreamFinding } from "./placement.ts";
export { reportBusState, type BusStateReporter } from "./bus-state.ts";
export { BusPublisher, type PublishResult, type PublisherOptions } from "./publisher.ts";
export { settle, type Settlement } from "./settlement.ts";
export { KeyedExecutor } from "./keyed-executor.ts";
export { runConsumer, type ConsumerRunOptions, type JsMsg, type RunningConsumer } from "./consumer.ts";
export { openQuarantineBucket, quarantineOf, readQuarantine, type KV, type KvEntry } from "./quarantine-kv.ts";
