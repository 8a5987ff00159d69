export { busSettings, readCommonConfig, type CommonConfig } from "./common.ts";
export { ConfigError } from "./config-error.ts";
export { EnvReader } from "./env-reader.ts";
export {
  EXCLUDED_AWS_NAME_PREFIXES,
  loadRules,
  matchAwsSecret,
  parseRules,
  ruleById,
  ruleSchema,
  rulesFileSchema,
  type AwsSecretRef,
  type Rule,
  type RuleSet,
  type ScopeDecision,
} from "./rules.ts";
