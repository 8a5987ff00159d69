import { readFileSync } from "node:fs";
import { AWS_ACCOUNT_ID, AWS_REGION, RULE_ID, VAULT_NAME } from "@credmesh/identifiers";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "./config-error.ts";

/**
 * Replication rules: which source secrets are in scope and where they go. One file, shared by
 * ingest (scope check) and the replicators (destination and name mapping).
 * @see ../../../README.md#replication-rules
 */

const ruleId = z.string().regex(RULE_ID, "rule ids use letters, digits, _ and -, up to 64");
const awsAccount = z.string().regex(AWS_ACCOUNT_ID, "an AWS account id has 12 digits");
const awsRegion = z.string().regex(AWS_REGION, "not an AWS region");

const awsSource = z.strictObject({
  cloud: z.literal("aws"),
  /** Accounts in scope; at least one. */
  accounts: z.array(awsAccount).min(1),
  /** Regions in scope; at least one. */
  regions: z.array(awsRegion).min(1),
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

const azureSource = z.strictObject({
  cloud: z.literal("azure"),
  /** Key Vault names in scope (the <vault> of https://<vault>.vault.azure.net); at least one. */
  vaults: z.array(z.string().regex(VAULT_NAME, "not a Key Vault name")).min(1),
  /** Secret name prefixes in scope, compared case-insensitively as Key Vault does; "" selects all. */
  namePrefixes: z.array(z.string().max(127)).min(1),
});

const awsDestination = z.strictObject({
  cloud: z.literal("aws"),
  account: awsAccount,
  region: awsRegion,
  /**
   * Destination name template. Placeholders: {name} (the Key Vault name), {vault}. A secret that
   * is itself a replica of an AWS secret goes back to its original name, whatever the template.
   */
  nameTemplate: z.string().min(1).max(512).default("{name}"),
});

/** What a source delete does to the replica: soft-delete it (default) or leave it. */
const onDelete = z.enum(["soft-delete", "ignore"]).default("soft-delete");
/**
 * What a force delete (no recovery window) at the source does to the replica: soft-delete it
 * anyway (default: the replica stays recoverable) or purge it too.
 */
const onForceDelete = z.enum(["soft-delete", "purge"]).default("soft-delete");
/**
 * A write that meets a soft-deleted destination (Key Vault "deleted but recoverable", Secrets
 * Manager "scheduled for deletion"): recover it, wait until usable, then write (default); or fail
 * (dead letter, alert) and leave the decision to a person.
 */
const onDeletedDestination = z.enum(["recover", "fail"]).default("recover");
/** Take over a destination secret credmesh does not manage (default false: refuse it). */
const adoptUnmanaged = z.boolean().default(false);
/**
 * A replica changed by hand (its current version was not written by credmesh) where no rule
 * carries the change back: overwrite it with the source (default: a replica is a failover copy of
 * its source, and every overwrite is audited `overwrote_drift` naming the replaced version, counted
 * and alerted on), or keep it (`skipped_drift`, counted, reported by the reconciler) until a person
 * decides. The mutation path and the reconciler apply the same policy. See README "Ownership,
 * monotonicity and ordering".
 */
export const DRIFT_POLICIES = ["overwrite", "keep"] as const;
export type DriftPolicy = (typeof DRIFT_POLICIES)[number];
const onDrift = z.enum(DRIFT_POLICIES).default("overwrite");

export const awsToAzureRuleSchema = z.strictObject({
  id: ruleId,
  description: z.string().max(512).optional(),
  source: awsSource,
  destination: azureDestination,
  onDelete,
  onForceDelete,
  onDeletedDestination,
  adoptUnmanaged,
  onDrift,
});

export const azureToAwsRuleSchema = z.strictObject({
  id: ruleId,
  description: z.string().max(512).optional(),
  source: azureSource,
  destination: awsDestination,
  onDelete,
  onForceDelete,
  onDeletedDestination,
  adoptUnmanaged,
  onDrift,
});

/** A rule replicates one direction; a bidirectional pair is two rules (see README). */
export const ruleSchema = z.union([awsToAzureRuleSchema, azureToAwsRuleSchema]);

export const rulesFileSchema = z.strictObject({
  rules: z.array(ruleSchema).min(1),
});

/** The document's shape before each rule is checked against the schema of its direction. */
const rulesDocumentSchema = z.strictObject({ rules: z.array(z.unknown()).min(1) });

/**
 * The schema a rule is checked against, chosen by its source cloud, so that errors name the
 * actual bad field (a plain union would only say "invalid input" for the whole rule).
 */
function schemaFor(rule: unknown): typeof awsToAzureRuleSchema | typeof azureToAwsRuleSchema {
  const cloud = (rule as { source?: { cloud?: unknown } } | null)?.source?.cloud;
  return cloud === "azure" ? azureToAwsRuleSchema : awsToAzureRuleSchema;
}

export type AwsToAzureRule = z.infer<typeof awsToAzureRuleSchema>;
export type AzureToAwsRule = z.infer<typeof azureToAwsRuleSchema>;
export type Rule = AwsToAzureRule | AzureToAwsRule;
export type RuleSet = readonly Rule[];

/** Parses a rules document (YAML or JSON). Throws {@link ConfigError} naming each bad path. */
export function parseRules(text: string, origin: string = "rules"): RuleSet {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError([`${origin}: not valid YAML/JSON (${error instanceof Error ? error.name : "error"})`]);
  }
  const shape = rulesDocumentSchema.safeParse(document);
  if (!shape.success) {
    throw new ConfigError(shape.error.issues.map((issue) => `${origin}: ${issue.path.join(".")}: ${issue.message}`));
  }
  const issues: string[] = [];
  const rules: Rule[] = [];
  shape.data.rules.forEach((candidate, index) => {
    const result = schemaFor(candidate).safeParse(candidate);
    if (result.success) rules.push(result.data);
    else issues.push(...result.error.issues.map((issue) => `${origin}: ${["rules", index, ...issue.path].join(".")}: ${issue.message}`));
  });
  if (issues.length > 0) throw new ConfigError(issues);
  const seen = new Set<string>();
  const duplicates = rules.filter((rule) => (seen.has(rule.id) ? true : (seen.add(rule.id), false)));
  if (duplicates.length > 0) {
    throw new ConfigError(duplicates.map((rule) => `${origin}: rule id "${rule.id}" is used more than once`));
  }
  return Object.freeze(rules);
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

export function isAwsToAzure(rule: Rule): rule is AwsToAzureRule {
  return rule.source.cloud === "aws";
}

export function isAzureToAws(rule: Rule): rule is AzureToAwsRule {
  return rule.source.cloud === "azure";
}

export function ruleById(rules: RuleSet, id: string): Rule | undefined {
  return rules.find((rule) => rule.id === id);
}
