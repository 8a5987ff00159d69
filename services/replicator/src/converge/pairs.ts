import { isAwsToAzure, isAzureToAws, matchAwsSecret, matchAzureSecret, type Rule, type RuleSet } from "@credmesh/config";
import type { OriginRef } from "@credmesh/replicas";

/**
 * Which rules make a bidirectional pair, from configuration alone. A Key Vault is identified by
 * the URL credmesh resolves for it (`CREDMESH_AZURE_VAULT_URL_TEMPLATE` for vaults named by Event
 * Grid and the rules; `vaultUrl` of a destination), whatever host serves it.
 */

/** Resolves a Key Vault name to the URL credmesh uses for it. */
export type VaultUrlOf = (vaultName: string) => string;

export function normalizeUrl(url: string): string {
  return url.toLowerCase().replace(/\/+$/, "");
}

/** The Key Vault named `vaultName` is the one at `vaultUrl`. */
export function sameVault(vaultName: string, vaultUrl: string, vaultUrlOf: VaultUrlOf): boolean {
  return normalizeUrl(vaultUrlOf(vaultName)) === normalizeUrl(vaultUrl);
}

/**
 * Whether the destination secret of a pair is itself replicated back to the source's place by a
 * rule (bidirectional replication): then changes and deletions made to it travel that way, and a
 * change made to it is not drift.
 */
export function coveredBack(rules: RuleSet, rule: Rule, destinationName: string, sourceRef: OriginRef, vaultUrlOf: VaultUrlOf): boolean {
  if (isAwsToAzure(rule)) {
    if (sourceRef.cloud !== "aws") return false;
    const vaults = new Set(
      rules
        .filter(isAzureToAws)
        .flatMap((candidate) => candidate.source.vaults)
        .filter((vault) => sameVault(vault, rule.destination.vaultUrl, vaultUrlOf)),
    );
    return [...vaults].some((vault) => {
      const match = matchAzureSecret(rules, { vaultName: vault, name: destinationName });
      return match.inScope && match.rule.destination.account === sourceRef.account && match.rule.destination.region === sourceRef.region;
    });
  }
  if (sourceRef.cloud !== "azure") return false;
  const match = matchAwsSecret(rules, { account: rule.destination.account, region: rule.destination.region, name: destinationName });
  return match.inScope && sameVault(sourceRef.vault, match.rule.destination.vaultUrl, vaultUrlOf);
}

/**
 * Whether some rule writes into the source's place, so the source may be credmesh's replica of a
 * secret in `rule`'s destination (a pair) even though its first read did not say so. Only then is
 * a source's provenance worth an extra read.
 */
export function mayBeReplica(rules: RuleSet, rule: Rule, sourceRef: OriginRef, vaultUrlOf: VaultUrlOf): boolean {
  if (sourceRef.cloud === "aws") {
    return rules.some((candidate) => isAzureToAws(candidate) && candidate.destination.account === sourceRef.account && candidate.destination.region === sourceRef.region);
  }
  return rule.destination.cloud === "aws" && rules.some((candidate) => isAwsToAzure(candidate) && sameVault(sourceRef.vault, candidate.destination.vaultUrl, vaultUrlOf));
}
