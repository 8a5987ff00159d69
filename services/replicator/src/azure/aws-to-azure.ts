import { CredmeshError, type RetryBudget, withRetry } from "@credmesh/errors";
import { nameFromArn, type AwsOrigin, type MutationEvent } from "@credmesh/events";
import type { AwsToAzureRule, RuleSet } from "@credmesh/config";
import { isAwsToAzure, ruleById } from "@credmesh/config";
import type { Logger, Sensitive } from "@credmesh/logging";
import { DECISION, type Decision } from "@credmesh/metrics";
import { toKeyVaultName } from "@credmesh/naming";
import type { SecretVersion, VaultContext, VaultPort } from "@credmesh/vault";
import { BINARY_CONTENT_TYPE } from "@credmesh/vault";
import { belongsTo, contentHash, isManaged, provenanceTags, TAG } from "../provenance.ts";

export interface AwsToAzureDeps {
  rules: RuleSet;
  /** The Secrets Manager vault of an origin account and region (credentials are the cell's). */
  sourceFor(origin: AwsOrigin): VaultPort;
  /** The Key Vault of a destination URL. */
  destinationFor(vaultUrl: string): VaultPort;
  contentHashKey: Sensitive<string>;
  budget: RetryBudget;
  now?: () => Date;
}

export interface Outcome {
  decision: Decision;
  destination: { vault: string; name: string; versionId?: string };
  originVersion?: string;
  detail?: string;
}

/**
 * Converges one Key Vault replica with its AWS source for one mutation. The event only says
 * which secret changed; the value is pulled from the source now, so a late or repeated event
 * converges to the current state instead of replaying history. Idempotent: a replica that
 * already holds the source's current version is left alone.
 */
export async function applyAwsToAzure(event: MutationEvent, deps: AwsToAzureDeps, logger: Logger): Promise<Outcome> {
  const origin = event.data.origin;
  if (origin.cloud !== "aws") {
    throw new CredmeshError("invalid_event", `replicator-azure received an event from ${origin.cloud}`);
  }
  const rule = ruleById(deps.rules, event.data.rule);
  if (!rule || !isAwsToAzure(rule)) {
    throw new CredmeshError("configuration", `rule ${event.data.rule} is not an AWS → Azure rule of this cell`);
  }
  const originName = origin.secretName ?? nameFromArn(origin.secretId) ?? origin.secretId;
  const destinationName = toKeyVaultName(rule.destination.nameTemplate, {
    name: originName,
    account: origin.account,
    region: origin.region,
  });
  const target = { vault: rule.destination.vaultUrl, name: destinationName };
  const ctx: VaultContext = { logger };
  const source = deps.sourceFor(origin);
  const destination = deps.destinationFor(rule.destination.vaultUrl);
  const retry = <T>(operation: () => Promise<T>): Promise<T> =>
    withRetry(operation, {
      maxAttempts: 3,
      budget: deps.budget,
      policy: { baseMs: 200, maxMs: 2_000 },
      onRetry: (error, attempt, delayMs) => logger.warn({ err: error, attempt, delayMs }, "retrying cloud call"),
    });

  switch (event.data.kind) {
    case "delete":
      return deleteReplica(rule, origin, originName, target, destination, ctx, retry);
    case "restore": {
      const replica = await retry(() => destination.describe(destinationName, ctx));
      if (replica.state === "deleted") {
        assertOwned(replica.tags, origin, originName, destinationName);
        await retry(() => destination.restore(destinationName, ctx));
        logger.info({ destination: destinationName }, "replica recovered");
      }
      const converged = await upsertReplica(rule, origin, originName, target, source, destination, deps, ctx, retry);
      return converged.decision === DECISION.skippedDuplicate && replica.state === "deleted"
        ? { ...converged, decision: DECISION.restored }
        : converged;
    }
    case "upsert":
    case "sync":
      return upsertReplica(rule, origin, originName, target, source, destination, deps, ctx, retry);
  }
}

type Retry = <T>(operation: () => Promise<T>) => Promise<T>;

async function upsertReplica(
  rule: AwsToAzureRule,
  origin: AwsOrigin,
  originName: string,
  target: { vault: string; name: string },
  source: VaultPort,
  destination: VaultPort,
  deps: AwsToAzureDeps,
  ctx: VaultContext,
  retry: Retry,
): Promise<Outcome> {
  const current = await readSource(source, origin.secretId, ctx, retry);
  if (current === "deleted" || current === undefined) {
    // Nothing to copy: the source is gone or scheduled for deletion; its delete event (or the
    // reconciler) decides what happens to the replica.
    return { decision: DECISION.skippedAbsent, destination: target, detail: `source is ${current ?? "absent"}` };
  }
  const replica = await retry(() => destination.get(target.name, ctx));
  if (replica) {
    assertOwned(replica.tags, origin, originName, target.name);
    if (replica.tags[TAG.originVersion] === current.versionId) {
      return { decision: DECISION.skippedDuplicate, destination: { ...target, versionId: replica.versionId }, originVersion: current.versionId };
    }
  }
  const tags = provenanceTags({
    origin,
    originName,
    originArn: origin.secretId.startsWith("arn:") ? origin.secretId : undefined,
    originVersion: current.versionId,
    contentHash: contentHash(deps.contentHashKey, current.value),
    rule: rule.id,
    replicatedAt: (deps.now ?? (() => new Date()))(),
  });
  const written = await retry(() =>
    destination.put(target.name, current.value, {
      tags,
      ...(current.encoding === "base64" ? { contentType: BINARY_CONTENT_TYPE, encoding: "base64" as const } : {}),
    }, ctx),
  );
  return { decision: DECISION.applied, destination: { ...target, versionId: written.versionId }, originVersion: current.versionId };
}

async function deleteReplica(
  rule: AwsToAzureRule,
  origin: AwsOrigin,
  originName: string,
  target: { vault: string; name: string },
  destination: VaultPort,
  ctx: VaultContext,
  retry: Retry,
): Promise<Outcome> {
  if (rule.onDelete === "ignore") {
    return { decision: DECISION.skippedAbsent, destination: target, detail: "rule keeps replicas of deleted secrets" };
  }
  const replica = await retry(() => destination.describe(target.name, ctx));
  if (replica.state !== "active") {
    return { decision: DECISION.skippedDuplicate, destination: target, detail: `replica already ${replica.state}` };
  }
  assertOwned(replica.tags, origin, originName, target.name);
  // Never purge: the replica stays recoverable for the vault's retention period (SPEC section 2).
  await retry(() => destination.delete(target.name, { mode: "recoverable" }, ctx));
  return { decision: DECISION.deleted, destination: target };
}

/** The source's current version; "deleted" when it is scheduled for deletion. */
async function readSource(
  source: VaultPort,
  secretId: string,
  ctx: VaultContext,
  retry: Retry,
): Promise<SecretVersion | "deleted" | undefined> {
  try {
    return await retry(() => source.get(secretId, ctx));
  } catch (error) {
    // Secrets Manager answers InvalidRequestException for reads of a secret scheduled for
    // deletion (FORMATS.md F); ask DescribeSecret instead of reading the message text.
    if (!(error instanceof CredmeshError) || error.code !== "InvalidRequestException") throw error;
    const described = await retry(() => source.describe(secretId, ctx));
    if (described.state === "deleted") return "deleted";
    throw error;
  }
}

function assertOwned(tags: Readonly<Record<string, string>>, origin: AwsOrigin, originName: string, destinationName: string): void {
  if (!isManaged(tags)) {
    throw new CredmeshError("unmanaged_destination", `Key Vault secret ${destinationName} exists and is not managed by credmesh`);
  }
  if (!belongsTo(tags, origin, originName)) {
    throw new CredmeshError(
      "name_collision",
      `Key Vault secret ${destinationName} already replicates another source secret`,
    );
  }
}
