import { isAwsToAzure, type Rule } from "@credmesh/config";
import { CredmeshError } from "@credmesh/errors";
import { toKeyVaultName, toSecretsManagerName, type OriginRef } from "@credmesh/replicas";
import { sameVault, type VaultUrlOf } from "./pairs.ts";
import type { SideState } from "./sides.ts";

/**
 * The destination name: a secret that is itself a replica of the destination secret goes back
 * to its original (bidirectional pairs stay pairs); otherwise the rule's documented mapping.
 * Shared by the converge path and the reconciler, so both name a replica the same way.
 * @see ../../../../README.md#name-mapping-aws--key-vault
 */
export function destinationNameOf(rule: Rule, sourceRef: OriginRef, source: Pick<SideState, "origin">, vaultUrlOf: VaultUrlOf): string {
  const paired = source.origin;
  if (isAwsToAzure(rule)) {
    if (paired?.cloud === "azure") {
      if (!sameVault(paired.vault, rule.destination.vaultUrl, vaultUrlOf)) {
        throw new CredmeshError("name_collision", `source is a replica of ${paired.vault}/${paired.name}, not of the rule's vault`);
      }
      return paired.name;
    }
    if (sourceRef.cloud !== "aws") throw new CredmeshError("configuration", "AWS → Azure rule with a non-AWS source");
    return toKeyVaultName(rule.destination.nameTemplate, { name: sourceRef.name, account: sourceRef.account, region: sourceRef.region });
  }
  if (paired?.cloud === "aws") {
    if (paired.account !== rule.destination.account || paired.region !== rule.destination.region) {
      throw new CredmeshError("name_collision", `source is a replica of an AWS secret in ${paired.account}/${paired.region}, not the rule's`);
    }
    return paired.name;
  }
  if (sourceRef.cloud !== "azure") throw new CredmeshError("configuration", "Azure → AWS rule with a non-Azure source");
  return toSecretsManagerName(rule.destination.nameTemplate, { name: sourceRef.name, vault: sourceRef.vault });
}

/** The destination vault of a rule as audit records and reports name it. */
export function destinationLabel(rule: Rule): string {
  return isAwsToAzure(rule) ? rule.destination.vaultUrl : `aws/${rule.destination.account}/${rule.destination.region}`;
}
