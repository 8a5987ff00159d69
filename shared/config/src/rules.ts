import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "./config-error.ts";

/**
 * Replication rules: which source secrets are in scope and where they go. One file, shared by
 * ingest (scope check) and the replicators (destination and name mapping).
 * @see ../../../README.md#replication-rules
 */

const ruleId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "rule ids use letters, digits, _ and -, up to 64");

const awsSource = z.strictObject({
  cloud: z.literal("aws"),
  /** Accounts in scope; at least one. */
  accounts: z.array(z.string().regex(/^\d{12}$/, "an AWS account id has 12 digits")).min(1),
  /** Regions in scope; at least one. */
  regions: z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "not an AWS region")).min(1),
  /** Secret name prefixes in scope; "" selects every name. At least one, to make scope explicit. */
  namePrefixes: z.array(z.string().max(512)).min(1),
});

const azureDestination = z.strictObject({
  cloud: z.literal("azure"),
  /** https://<vault>.vault.azure.net (or an emulator's URL). */
  vaultUrl: z.url({ protocol: /^https$/ }),
  /**
   * Destination name template. Placeholders: {name} (the source name), {account}, {region}.
   * The result is made valid for Key Vault by the documented mapping (see README).
   */
  nameTemplate: z.string().min(1).max(256).default("{name}"),
});

export const ruleSchema = z.strictObject({
  id: ruleId,
  description: z.string().max(512).optional(),
  source: awsSource,
  destination: azureDestination,
  /** What a source delete does to the replica: soft-delete it (default) or leave it. */
  onDelete: z.enum(["soft-delete", "ignore"]).default("soft-delete"),
});

export const rulesFileSchema = z.strictObject({
  rules: z.array(ruleSchema).min(1),
});

export type Rule = z.infer<typeof ruleSchema>;
export type RuleSet = readonly Rule[];

/** Secrets no rule may replicate: EventBridge connection credentials live here (FORMATS.md B). */
export const EXCLUDED_AWS_NAME_PREFIXES: readonly string[] = ["events!connection/"];

/** Parses a rules document (YAML or JSON). Throws {@link ConfigError} naming each bad path. */
export function parseRules(text: string, origin: string = "rules"): RuleSet {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError([`${origin}: not valid YAML/JSON (${error instanceof Error ? error.name : "error"})`]);
  }
  const result = rulesFileSchema.safeParse(document);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${origin}: ${issue.path.join(".")}: ${issue.message}`));
  }
  const seen = new Set<string>();
  const duplicates = result.data.rules.filter((rule) => (seen.has(rule.id) ? true : (seen.add(rule.id), false)));
  if (duplicates.length > 0) {
    throw new ConfigError(duplicates.map((rule) => `${origin}: rule id "${rule.id}" is used more than once`));
  }
  return Object.freeze(result.data.rules);
}

export function loadRules(path: string): RuleSet {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new ConfigError([`rules file "${path}" cannot be read`]);
  }
  return parseRules(text, path);
}

export interface AwsSecretRef {
  account: string;
  region: string;
  name: string;
}

export type ScopeDecision =
  | { inScope: true; rule: Rule }
  | { inScope: false; reason: "excluded_name" | "no_matching_rule" };

/**
 * The rule that puts an AWS secret in scope: the first rule, in file order, whose account,
 * region and name prefix all match. Excluded names are never in scope.
 */
export function matchAwsSecret(rules: RuleSet, ref: AwsSecretRef): ScopeDecision {
  if (EXCLUDED_AWS_NAME_PREFIXES.some((prefix) => ref.name.startsWith(prefix))) {
    return { inScope: false, reason: "excluded_name" };
  }
  const rule = rules.find(
    (candidate) =>
      candidate.source.cloud === "aws" &&
      candidate.source.accounts.includes(ref.account) &&
      candidate.source.regions.includes(ref.region) &&
      candidate.source.namePrefixes.some((prefix) => ref.name.startsWith(prefix)),
  );
  return rule ? { inScope: true, rule } : { inScope: false, reason: "no_matching_rule" };
}

export function ruleById(rules: RuleSet, id: string): Rule | undefined {
  return rules.find((rule) => rule.id === id);
}
