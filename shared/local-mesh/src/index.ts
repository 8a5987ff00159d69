export {
  ALERT_RULE_FILES,
  COMPOSE_ONLY_PARTS,
  LOCAL_API_KEY_HEADER,
  LOCAL_AWS_ACCOUNT,
  LOCAL_AWS_REGION,
  LOCAL_BUS_DEPLOYMENT,
  LOCAL_CELLS,
  LOCAL_PARTS,
  LOCAL_RECONCILE_INTERVAL_SECONDS,
  LOCAL_REPLICATOR_ROLE_ARN,
  LOCAL_SERVICE_NAMES,
  LOCAL_SERVICES,
  LOCAL_VAULT_NAME,
  LOCAL_WATCHER_ROLE_ARN,
  localBusRole,
  localPlaintextBus,
  localRules,
  localServiceEnv,
  type LocalAddresses,
  type LocalEnvOptions,
  type LocalKeys,
  type LocalRule,
  type LocalService,
  type LocalServiceName,
} from "./topology.ts";
export { localPrometheusConfig, localScrapeConfigs, type ScrapeJob } from "./prometheus-config.ts";
export { startLocalMesh, PortsInUseError, type LocalMesh, type LocalMeshOptions, type RunningPart } from "./local-mesh.ts";
export { acquireLock, type HeldLock, type LockHolder, type LockResult } from "./lock.ts";
export { ManagedProcess, type ManagedProcessOptions } from "./managed-process.ts";
export {
  REPO_ROOT,
  startCredmeshService,
  startKeyVaultProcess,
  startMotoServer,
  startNatsServer,
  startPrometheus,
  type KeyVaultEndpoints,
  type KeyVaultProcessPart,
  type MotoServerPart,
  type NatsServerPart,
  type PrometheusPart,
  type ProcessOptions,
} from "./parts.ts";
export { natsServerConfig, type NatsClusterMember, type NatsServerSecurity } from "./nats-config.ts";
export { startNatsCluster, type ClusterNode, type NatsCluster, type NatsClusterOptions } from "./nats-cluster.ts";
export { freePort, portIsFree } from "./ports.ts";
export { loadTools, requireTool, toolsDir, type Tools } from "./tools.ts";
export { httpOk, until } from "./wait.ts";
