export { busSettings, readBaseConfig, readCommonConfig, type BaseConfig, type CommonConfig } from "./common.ts";
export { ConfigError } from "./config-error.ts";
export { EnvReader } from "./env-reader.ts";
export {
  DRIFT_POLICIES,
  EXCLUDED_AWS_NAME_PREFIXES,
  loadRules,
  awsToAzureRuleSchema,
  azureToAwsRuleSchema,
  isAwsToAzure,
  isAzureToAws,
  matchAwsSecret,
  matchAzureSecret,
  parseRules,
  ruleById,
  ruleSchema,
  rulesFileSchema,
  type AwsSecretRef,
  type AwsToAzureRule,
  type AzureSecretRef,
  type AzureToAwsRule,
  type DriftPolicy,
  type Rule,
  type RuleSet,
  type ScopeDecision,
} from "./rules.ts";
