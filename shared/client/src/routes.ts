import { matchAwsSecret, matchAzureSecret, type RuleSet } from "@credmesh/config";
import { toKeyVaultName, toSecretsManagerName, type OriginRef } from "@credmesh/replicas";

/** One store as the routing sees it: an AWS account and region, or a Key Vault. */
export type StoreRef =
  | { cloud: "aws"; account: string; region: string }
  | { cloud: "azure"; vaultUrl: string; /** The vault's name as rules name it. */ vaultName: string };

/**
 * Where a logical name lives in each store, and which side is the origin. The logical name is
 * the secret's name at its origin (the rule's source), whichever store the application reads first.
 */
export interface Route {
  logicalName: string;
  /** The secret at its origin: what a replica's provenance tags must name. */
  origin: OriginRef;
  /** The rule that replicates it between the two stores; undefined when none does. */
  rule: string | undefined;
  primaryName: string;
  /** The name in the fallback store; undefined when no rule replicates the secret there. */
  fallbackName: string | undefined;
}

/**
 * Maps a logical name to each store's name with the replicator's own mapping code
 * (`@credmesh/replicas`) and the rules' own scope functions (`@credmesh/config`): the first rule
 * in file order that puts the secret in scope owns it, and it is a replica here only if that rule
 * writes to the other store. Without such a rule there is no replica to fail over to.
 */
export function routeFor(logicalName: string, rules: RuleSet, primary: StoreRef, fallback: StoreRef | undefined): Route {
  const alone = (): Route => ({
    logicalName,
    origin: originIn(primary, logicalName),
    rule: undefined,
    primaryName: logicalName,
    fallbackName: undefined,
  });
  if (!fallback || fallback.cloud === primary.cloud) return alone();
  const aws = primary.cloud === "aws" ? primary : fallback.cloud === "aws" ? fallback : undefined;
  const azure = primary.cloud === "azure" ? primary : fallback.cloud === "azure" ? fallback : undefined;
  if (!aws || !azure) return alone();

  const fromAws = matchAwsSecret(rules, { account: aws.account, region: aws.region, name: logicalName });
  if (fromAws.inScope && sameVaultUrl(fromAws.rule.destination.vaultUrl, azure.vaultUrl)) {
    const keyVaultName = toKeyVaultName(fromAws.rule.destination.nameTemplate, { name: logicalName, account: aws.account, region: aws.region });
    return named(primary, { aws: logicalName, azure: keyVaultName }, {
      logicalName,
      origin: { cloud: "aws", account: aws.account, region: aws.region, name: logicalName },
      rule: fromAws.rule.id,
    });
  }
  const fromAzure = matchAzureSecret(rules, { vaultName: azure.vaultName, name: logicalName });
  if (fromAzure.inScope && fromAzure.rule.destination.account === aws.account && fromAzure.rule.destination.region === aws.region) {
    const awsName = toSecretsManagerName(fromAzure.rule.destination.nameTemplate, { name: logicalName, vault: azure.vaultName.toLowerCase() });
    return named(primary, { aws: awsName, azure: logicalName }, {
      logicalName,
      origin: { cloud: "azure", vault: azure.vaultName.toLowerCase(), name: logicalName },
      rule: fromAzure.rule.id,
    });
  }
  return alone();
}

function named(primary: StoreRef, names: { aws: string; azure: string }, route: Omit<Route, "primaryName" | "fallbackName">): Route {
  return primary.cloud === "aws"
    ? { ...route, primaryName: names.aws, fallbackName: names.azure }
    : { ...route, primaryName: names.azure, fallbackName: names.aws };
}

function originIn(store: StoreRef, name: string): OriginRef {
  return store.cloud === "aws"
    ? { cloud: "aws", account: store.account, region: store.region, name }
    : { cloud: "azure", vault: store.vaultName.toLowerCase(), name };
}

/** Vault URLs compare by origin, case-insensitively, ignoring a trailing slash. */
export function sameVaultUrl(a: string, b: string): boolean {
  try {
    return new URL(a).origin.toLowerCase() === new URL(b).origin.toLowerCase();
  } catch {
    return false;
  }
}

/** The vault's name as rules name it: the first label of https://<name>.vault.azure.net. */
export function vaultNameOf(vaultUrl: string): string {
  return new URL(vaultUrl).hostname.split(".")[0] ?? "";
}
