import { isAwsToAzure, matchAwsSecret, matchAzureSecret, type Rule, type RuleSet } from "@credmesh/config";
import { parseSecretArn } from "@credmesh/identifiers";
import type { Origin } from "@credmesh/events";
import type { Cloud } from "@credmesh/bus-names";
import type { ListedSecret, VaultContext, VaultPort } from "@credmesh/vault";
import type { Retry } from "../converge/sides.ts";
import type { OriginRef } from "@credmesh/replicas";
import { normalizeUrl } from "../converge/pairs.ts";
import type { ResolvedVersions } from "./decide.ts";

/**
 * Listing the places a run compares — source regions and vaults, destination vaults and regions —
 * and the few value-free reads Key Vault needs on top of its listing.
 */

/** A source or destination place (region, vault) and its listing, once per run. */
export interface Place {
  key: string;
  label: string;
  cloud: Cloud;
  vault: VaultPort;
  entries?: ListedSecret[];
  /** Secrets Manager: the accounts whose ARNs the listing showed (the cell's credentials reach them). */
  accounts: Set<string>;
  failed: boolean;
  /** Source places: the AWS region, or the Key Vault name as the rules spell it. */
  region?: string;
  vaultName?: string;
}

export interface DestinationPlace extends Place {
  byName: Map<string, ListedSecret>;
  /** Names some listed source maps to; the rest are checked for orphans and vanished sources. */
  claimed: Set<string>;
}

/** The places a rule's sources live in: AWS regions, or Key Vaults. */
export function sourcePlacesOf(rule: Rule): Array<{ key: string; origin: Origin }> {
  if (isAwsToAzure(rule)) {
    return rule.source.regions.map((region) => ({
      key: `aws/${region}`,
      // The adapter is per region; the account is whatever the cell's credentials reach.
      origin: { cloud: "aws", account: rule.source.accounts[0] ?? "000000000000", region, secretId: "*" },
    }));
  }
  return rule.source.vaults.map((vault) => ({
    key: `azure/${vault.toLowerCase()}`,
    origin: { cloud: "azure", vaultName: vault, secretName: "list" },
  }));
}

export function sourcePlaceKey(origin: OriginRef): string {
  return origin.cloud === "aws" ? `aws/${origin.region}` : `azure/${origin.vault.toLowerCase()}`;
}

/** A listed source entry's identity at its origin; undefined for an entry whose account is unknown. */
export function refOfEntry(place: Place, entry: ListedSecret): OriginRef | undefined {
  if (place.cloud === "aws") {
    const account = accountOfArn(entry.id);
    return account && place.region ? { cloud: "aws", account, region: place.region, name: entry.name, arn: entry.id } : undefined;
  }
  return place.vaultName ? { cloud: "azure", vault: place.vaultName.toLowerCase(), name: entry.name } : undefined;
}

/** Every entry of a vault, deleted ones included. A failed page fails the whole listing (retried). */
export async function listVault(vault: VaultPort, ctx: VaultContext, retry: Retry): Promise<ListedSecret[]> {
  return retry(async () => {
    const entries: ListedSecret[] = [];
    for await (const entry of vault.list(ctx, { includeDeleted: true })) entries.push(entry);
    return entries;
  });
}

/**
 * Key Vault listings carry neither the current version id nor the tags of older versions. Both
 * come from the version metadata (no value): the newest version is the current one, and the
 * newest tagged one tells whose replica a secret is after someone wrote an untagged version
 * (as converge/sides.ts reads it). Versions created in the same second cannot be ordered by their
 * whole-second creation times; then the current version id comes from a describe (the adapter
 * drops the value at once).
 */
export async function resolveVersions(vault: VaultPort, name: string, ctx: VaultContext, retry: Retry, needCurrent: boolean): Promise<ResolvedVersions> {
  const earlier = await retry(() => vault.versions(name, ctx, 25));
  let currentVersionId: string | undefined;
  if (needCurrent) {
    const [top, next] = earlier;
    const tied = top?.createdAt === undefined || (next?.createdAt !== undefined && next.createdAt.getTime() === top.createdAt.getTime());
    currentVersionId = tied ? (await retry(() => vault.describe(name, ctx))).currentVersionId : top?.versionId;
  }
  return { ...(currentVersionId ? { currentVersionId } : {}), earlier };
}

/** The account in a Secrets Manager ARN (`arn:aws:secretsmanager:<region>:<account>:secret:...`). */
export function accountOfArn(arn: string | undefined): string | undefined {
  return arn === undefined ? undefined : parseSecretArn(arn)?.account;
}

/** Identity key of an origin secret, as case-insensitive as the origin's names are. */
export function originKey(ref: OriginRef): string {
  return ref.cloud === "aws" ? `aws/${ref.account}/${ref.region}/${ref.name}` : `azure/${ref.vault.toLowerCase()}/${ref.name.toLowerCase()}`;
}

/** Where a rule writes: one Key Vault, or one account and region of Secrets Manager. */
export function destinationPlaceKey(rule: Rule): string {
  return isAwsToAzure(rule) ? `azure:${normalizeUrl(rule.destination.vaultUrl)}` : `aws:${rule.destination.account}/${rule.destination.region}`;
}

/** How the destination vault compares names: Key Vault case-insensitively. */
export function nameKey(cloud: "aws" | "azure", name: string): string {
  return cloud === "azure" ? name.toLowerCase() : name;
}

/**
 * The first rule (file order, as ingest decides scope) that replicates this origin secret; the
 * owner of every decision about it.
 */
export function ruleOfOrigin(rules: RuleSet, origin: OriginRef): Rule | undefined {
  const match =
    origin.cloud === "aws"
      ? matchAwsSecret(rules, { account: origin.account, region: origin.region, name: origin.name })
      : matchAzureSecret(rules, { vaultName: origin.vault, name: origin.name });
  return match.inScope ? match.rule : undefined;
}

/** Runs `task` over `items` with at most `limit` in flight, preserving order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
