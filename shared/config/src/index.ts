export {
  DEFAULT_NATS_URL,
  busSettings,
  readBaseConfig,
  readBusConfig,
  readCommonConfig,
  readLogLevel,
  type BaseConfig,
  type BusAuth,
  type BusConfig,
  type CommonConfig,
  type LogLevel,
} from "./common.ts";
export { ConfigError } from "./config-error.ts";
export { EnvReader } from "./env-reader.ts";
export {
  DRIFT_POLICIES,
  loadRules,
  awsToAzureRuleSchema,
  azureToAwsRuleSchema,
  isAwsToAzure,
  isAzureToAws,
  parseRules,
  ruleById,
  ruleSchema,
  rulesFileSchema,
  type AwsToAzureRule,
  type AzureToAwsRule,
  type DriftPolicy,
  type Rule,
  type RuleSet,
} from "./rules.ts";
export {
  EXCLUDED_AWS_NAME_PREFIXES,
  matchAwsSecret,
  matchAzureSecret,
  originSecretRef,
  scopeOfOrigin,
  type AwsSecretRef,
  type AzureSecretRef,
  type OriginIdentifiers,
  type OutOfScopeReason,
  type ScopeDecision,
} from "./scope.ts";
