import { isArn, parseSecretArn } from "@credmesh/identifiers";
import { isAwsToAzure, isAzureToAws, type AwsToAzureRule, type AzureToAwsRule, type Rule, type RuleSet } from "./rules.ts";

/**
 * Scope: which rule, if any, replicates a source secret. One definition, used by ingest when it
 * turns a cloud event into a mutation, by the reconciler when it lists sources, and by every
 * consumer that re-checks a mutation it receives (a replicator refuses one that is not in scope of
 * the rule it names). So "in scope" means the same thing at every step, and a message on the bus
 * cannot widen it.
 * @see ../../../README.md#replication-rules and #security-model
 */

/** Secrets no rule may replicate: EventBridge connection credentials live here (FORMATS.md B). */
export const EXCLUDED_AWS_NAME_PREFIXES: readonly string[] = ["events!connection/"];

export interface AwsSecretRef {
  account: string;
  region: string;
  name: string;
}

export interface AzureSecretRef {
  vaultName: string;
  name: string;
}

/** Why a secret is not in scope. `inconsistent_origin`: the identifiers contradict each other. */
export type OutOfScopeReason = "excluded_name" | "no_matching_rule" | "inconsistent_origin";

export type ScopeDecision<R extends Rule = Rule> =
  | { inScope: true; rule: R }
  | { inScope: false; reason: OutOfScopeReason; detail?: string };

/**
 * The rule that puts an AWS secret in scope: the first rule, in file order, whose account,
 * region and name prefix all match. Excluded names are never in scope.
 */
export function matchAwsSecret(rules: RuleSet, ref: AwsSecretRef): ScopeDecision<AwsToAzureRule> {
  if (EXCLUDED_AWS_NAME_PREFIXES.some((prefix) => ref.name.startsWith(prefix))) {
    return { inScope: false, reason: "excluded_name" };
  }
  const rule = rules.find(
    (candidate): candidate is AwsToAzureRule =>
      isAwsToAzure(candidate) &&
      candidate.source.accounts.includes(ref.account) &&
      candidate.source.regions.includes(ref.region) &&
      candidate.source.namePrefixes.some((prefix) => ref.name.startsWith(prefix)),
  );
  return rule ? { inScope: true, rule } : { inScope: false, reason: "no_matching_rule" };
}

/**
 * The rule that puts a Key Vault secret in scope: the first rule whose vault and name prefix
 * match, compared case-insensitively because Key Vault names are.
 */
export function matchAzureSecret(rules: RuleSet, ref: AzureSecretRef): ScopeDecision<AzureToAwsRule> {
  const vault = ref.vaultName.toLowerCase();
  const name = ref.name.toLowerCase();
  const rule = rules.find(
    (candidate): candidate is AzureToAwsRule =>
      isAzureToAws(candidate) &&
      candidate.source.vaults.some((v) => v.toLowerCase() === vault) &&
      candidate.source.namePrefixes.some((prefix) => name.startsWith(prefix.toLowerCase())),
  );
  return rule ? { inScope: true, rule } : { inScope: false, reason: "no_matching_rule" };
}

/**
 * A mutation's origin as it travels on the bus (structurally the `origin` of @credmesh/events'
 * mutation event): AWS by account, region and secret id (a full ARN or a plain name); Key Vault
 * by vault and secret name.
 */
export type OriginIdentifiers =
  | { cloud: "aws"; account: string; region: string; secretId: string; secretName?: string | undefined }
  | { cloud: "azure"; vaultName: string; secretName: string };

/**
 * The secret an origin names, as it will be READ: a replicator reads `secretId` in `region` with
 * its own credentials, so the scope is decided on what `secretId` says, and every other identifier
 * must agree with it. A full ARN names its account, region and name, which must be the origin's;
 * a plain name must equal `secretName` when both are given; a partial ARN (ARN-like, no suffix)
 * could name another account's secret and is refused.
 */
export function originSecretRef(origin: OriginIdentifiers): { cloud: "aws"; ref: AwsSecretRef } | { cloud: "azure"; ref: AzureSecretRef } | { inconsistent: string } {
  if (origin.cloud === "azure") return { cloud: "azure", ref: { vaultName: origin.vaultName, name: origin.secretName } };
  const { account, region, secretId, secretName } = origin;
  if (!isArn(secretId)) {
    if (secretName !== undefined && secretName !== secretId) return { inconsistent: "secretName is not the name secretId reads" };
    return { cloud: "aws", ref: { account, region, name: secretId } };
  }
  const arn = parseSecretArn(secretId);
  if (!arn) return { inconsistent: "secretId is an ARN-like id but not a full secret ARN" };
  if (arn.account !== account || arn.region !== region) return { inconsistent: "secretId's ARN names another account or region than the origin" };
  if (secretName !== undefined && secretName !== arn.name) return { inconsistent: "secretName is not the name in secretId's ARN" };
  return { cloud: "aws", ref: { account, region, name: arn.name } };
}

/**
 * The rule that puts a mutation's origin in scope, exactly as ingest decides it: the identifiers
 * must agree with each other ({@link originSecretRef}), then the first matching rule wins.
 */
export function scopeOfOrigin(rules: RuleSet, origin: OriginIdentifiers): ScopeDecision {
  const resolved = originSecretRef(origin);
  if ("inconsistent" in resolved) return { inScope: false, reason: "inconsistent_origin", detail: resolved.inconsistent };
  return resolved.cloud === "aws" ? matchAwsSecret(rules, resolved.ref) : matchAzureSecret(rules, resolved.ref);
}
