import { ruleById, type Rule, type RuleSet } from "@credmesh/config";
import { CredmeshError, type RetryBudget, withRetry } from "@credmesh/errors";
import { type MutationEvent, type Origin } from "@credmesh/events";
import { isArn, parseAssumedRoleArn, secretNameOfArn } from "@credmesh/identifiers";
import type { Logger, Sensitive } from "@credmesh/logging";
import { DECISION, type Decision } from "@credmesh/metrics";
import type { Cloud } from "@credmesh/bus-names";
import { BINARY_CONTENT_TYPE, type SecretVersion, type VaultContext, type VaultPort } from "@credmesh/vault";
import { destinationLabel, destinationNameOf } from "./destination-name.ts";
import { decideUpsert } from "./policy.ts";
import { contentHash, provenanceTags, readProvenance, sameOrigin, type OriginRef } from "@credmesh/replicas";
import { readSide, type Retry, type SideState } from "./sides.ts";

export interface ConvergeDeps {
  rules: RuleSet;
  /** The vault a mutation's origin lives in (credentials are the cell's). */
  sourceFor(origin: Origin): VaultPort;
  /** The destination vault of a rule. */
  destinationFor(rule: Rule): VaultPort;
  contentHashKey: Sensitive<string>;
  budget: RetryBudget;
  /** Role session names of credmesh's own writers start with this (CloudTrail echo check). */
  ownSessionPrefix: string;
  now?: () => Date;
}

export interface Outcome {
  decision: Decision;
  destination: { vault: string; name: string; versionId?: string };
  originVersion?: string;
  detail?: string;
}

/**
 * Converges one replica with its source for one mutation. The event only says which secret
 * changed; the value is pulled from the source now, so a late or repeated event converges to the
 * current state instead of replaying history. Idempotent, echo-free and ownership-checked.
 */
export async function applyMutation(event: MutationEvent, deps: ConvergeDeps, logger: Logger): Promise<Outcome> {
  const rule = ruleById(deps.rules, event.data.rule);
  const origin = event.data.origin;
  if (!rule || rule.source.cloud !== origin.cloud || rule.destination.cloud !== event.data.destination.cloud) {
    throw new CredmeshError("configuration", `rule ${event.data.rule} does not replicate ${origin.cloud} → ${event.data.destination.cloud} in this cell`);
  }
  const ctx: VaultContext = { logger };
  const retry: Retry = (operation) =>
    withRetry(operation, {
      maxAttempts: 3,
      budget: deps.budget,
      policy: { baseMs: 200, maxMs: 2_000 },
      onRetry: (error, attempt, delayMs) => logger.warn({ err: error, attempt, delayMs }, "retrying cloud call"),
    });
  const sourceRef = originRefOf(origin);
  const vaultLabel = destinationLabel(rule);

  // Our own writes come back as cloud events; CloudTrail names the writer, so they stop here.
  const actor = event.data.trigger.actor?.arn;
  if (actor && isOwnSession(actor, deps.ownSessionPrefix)) {
    return { decision: DECISION.skippedEcho, destination: { vault: vaultLabel, name: "" }, detail: "written by credmesh (CloudTrail identity)" };
  }

  const source = deps.sourceFor(origin);
  const destination = deps.destinationFor(rule);
  const sourceName = origin.cloud === "aws" ? origin.secretId : origin.secretName;
  const sourceSide = await readSide(source, sourceName, ctx, retry);
  const destinationName = destinationNameOf(rule, sourceRef, sourceSide);
  const target = { vault: vaultLabel, name: destinationName };

  switch (event.data.kind) {
    case "delete":
      return deleteReplica(event.data.deletion?.mode === "force", rule, sourceRef, sourceSide, target, destination, ctx, retry);
    case "restore": {
      const replica = await retry(() => destination.describe(destinationName, ctx));
      const owned = readProvenance(replica.tags);
      if (replica.state === "deleted" && owned && sameOrigin(owned.origin, sourceRef)) {
        await retry(() => destination.restore(destinationName, ctx));
        logger.info({ destination: destinationName }, "replica recovered");
        const converged = await upsert(rule, sourceRef, sourceSide, target, destination, deps, ctx, retry);
        return converged.decision === DECISION.skippedDuplicate ? { ...converged, decision: DECISION.restored } : converged;
      }
      return upsert(rule, sourceRef, sourceSide, target, destination, deps, ctx, retry);
    }
    case "upsert":
    case "sync":
      if (sourceSide.state === "deleted" && event.data.kind === "sync") {
        return deleteReplica(false, rule, sourceRef, sourceSide, target, destination, ctx, retry);
      }
      return upsert(rule, sourceRef, sourceSide, target, destination, deps, ctx, retry);
  }
}

async function upsert(
  rule: Rule,
  sourceRef: OriginRef,
  source: SideState,
  target: { vault: string; name: string },
  destination: VaultPort,
  deps: ConvergeDeps,
  ctx: VaultContext,
  retry: Retry,
): Promise<Outcome> {
  const current = source.current;
  if (source.state !== "active" || !current) {
    // Nothing to copy: the source is gone or scheduled for deletion; its delete event (or the
    // reconciler) decides what happens to the replica.
    return { decision: DECISION.skippedAbsent, destination: target, detail: `source is ${source.state}` };
  }
  if (source.writtenByCredmesh && source.origin?.cloud === rule.destination.cloud) {
    return { decision: DECISION.skippedEcho, destination: target, originVersion: current.versionId, detail: "the source version is credmesh's copy from the destination" };
  }
  let recovered = false;
  for (;;) {
    const destinationSide = await readSide(destination, target.name, ctx, retry);
    const decision = decideUpsert({
      sourceRef,
      sourceVersion: { versionId: current.versionId, createdAt: current.createdAt },
      sourceCopiedVersion: source.copiedVersion,
      pairedWithDestination: source.origin?.cloud === rule.destination.cloud,
      destination: destinationSide,
      destinationCloud: rule.destination.cloud,
      adoptUnmanaged: rule.adoptUnmanaged,
      onDeletedDestination: rule.onDeletedDestination,
    });
    if (decision.action === "refuse") throw refusal(decision.reason, rule, target.name);
    if (decision.action === "skip") {
      return {
        decision: decision.decision,
        destination: { ...target, ...(destinationSide.current ? { versionId: destinationSide.current.versionId } : {}) },
        originVersion: current.versionId,
        detail: decision.detail,
      };
    }
    if (decision.action === "recover") {
      if (recovered) throw refusal("deleted_in_destination", rule, target.name);
      // Key Vault: recover, then wait until the secret answers again (404 / 409
      // ObjectIsBeingDeleted while in flight are retryable); Secrets Manager: RestoreSecret.
      await retry(() => destination.restore(target.name, ctx));
      ctx.logger.info({ destination: target.name }, "recovered soft-deleted destination before writing");
      recovered = true;
      continue;
    }
    try {
      const written = await write(rule, sourceRef, current, target, destination, deps, ctx, retry);
      return {
        decision: DECISION.applied,
        destination: { ...target, versionId: written.versionId },
        originVersion: current.versionId,
        ...(recovered ? { detail: "recovered the soft-deleted destination, then wrote" } : {}),
      };
    } catch (error) {
      // Deleted between our read and our write (Key Vault 409 ObjectIsDeletedButRecoverable):
      // decide again from a fresh read, once.
      if (!(error instanceof CredmeshError) || error.reason !== "deleted_in_destination" || recovered) throw error;
    }
  }
}

async function write(
  rule: Rule,
  sourceRef: OriginRef,
  current: SecretVersion,
  target: { vault: string; name: string },
  destination: VaultPort,
  deps: ConvergeDeps,
  ctx: VaultContext,
  retry: Retry,
): Promise<{ versionId: string }> {
  const tags = provenanceTags({
    origin: sourceRef,
    version: current.versionId,
    versionCreatedAt: current.createdAt,
    contentHash: contentHash(deps.contentHashKey, current.value),
    rule: rule.id,
    replicatedAt: (deps.now ?? (() => new Date()))(),
  });
  const binary = current.encoding === "base64";
  let attempts = 0;
  return retry(async () => {
    if (attempts++ > 0) {
      // A failed attempt may have written and only lost its answer (a reset, a timeout): look
      // before writing again, so a lost response never becomes a second version.
      const seen = await readSide(destination, target.name, ctx, (operation) => operation());
      if (seen.writtenByCredmesh && seen.copiedVersion === current.versionId && seen.current) {
        return { versionId: seen.current.versionId };
      }
    }
    return destination.put(
      target.name,
      current.value,
      {
        tags,
        ...(binary ? { contentType: BINARY_CONTENT_TYPE, encoding: "base64" as const } : {}),
        // Secrets Manager: the origin version becomes the ClientRequestToken (and version id), so
        // a repeated write is a no-op and our copy is recognisable (Key Vault ids are 32 hex).
        ...(rule.destination.cloud === "aws" ? { idempotencyToken: current.versionId } : {}),
      },
      ctx,
    );
  });
}

function refusal(reason: "unmanaged_destination" | "name_collision" | "deleted_in_destination", rule: Rule, name: string): CredmeshError {
  const what = rule.destination.cloud === "azure" ? "Key Vault" : "Secrets Manager";
  const message = {
    unmanaged_destination: `${what} secret ${name} exists and is not managed by credmesh`,
    name_collision: `${what} secret ${name} already replicates another source secret`,
    deleted_in_destination: `${what} secret ${name} is soft-deleted and the rule does not recover it`,
  }[reason];
  return new CredmeshError(reason, message);
}


async function deleteReplica(
  forceDeleted: boolean,
  rule: Rule,
  sourceRef: OriginRef,
  source: SideState,
  target: { vault: string; name: string },
  destination: VaultPort,
  ctx: VaultContext,
  retry: Retry,
): Promise<Outcome> {
  if (rule.onDelete === "ignore") {
    return { decision: DECISION.skippedAbsent, destination: target, detail: "rule keeps replicas of deleted secrets" };
  }
  if (source.state === "active") {
    return { decision: DECISION.skippedAbsent, destination: target, detail: "the source exists again" };
  }
  const replica = await retry(() => destination.describe(target.name, ctx));
  if (replica.state !== "active") {
    return { decision: DECISION.skippedDuplicate, destination: target, detail: `replica already ${replica.state}` };
  }
  const owned = readProvenance(replica.tags);
  if (source.origin?.cloud === rule.destination.cloud && !(owned && sameOrigin(owned.origin, sourceRef))) {
    // The deleted secret was itself a replica of this destination secret: deleting a copy never
    // deletes the original.
    return { decision: DECISION.skippedAbsent, destination: target, detail: "the destination is the origin of the deleted replica" };
  }
  if (!owned && !rule.adoptUnmanaged) throw refusal("unmanaged_destination", rule, target.name);
  if (owned && !sameOrigin(owned.origin, sourceRef)) throw refusal("name_collision", rule, target.name);
  // Never purge unless the rule says so for force deletes: by default the replica stays
  // recoverable for the vault's retention period (SPEC section 2).
  const purge = forceDeleted && rule.onForceDelete === "purge";
  const { purged } = await retry(() => destination.delete(target.name, { mode: purge ? "force" : "recoverable" }, ctx));
  if (!purge) return { decision: DECISION.deleted, destination: target };
  return {
    decision: DECISION.deleted,
    destination: target,
    // A purge-protected vault keeps the replica recoverable until its retention period ends; no retry changes that.
    detail: purged ? "purged (force delete at the source)" : "soft-deleted: the vault refuses purge (purge protection); it purges the replica after its retention period",
  };
}

function originRefOf(origin: Origin): OriginRef {
  if (origin.cloud === "aws") {
    return {
      cloud: "aws",
      account: origin.account,
      region: origin.region,
      name: origin.secretName ?? secretNameOfArn(origin.secretId) ?? origin.secretId,
      arn: isArn(origin.secretId) ? origin.secretId : undefined,
    };
  }
  return { cloud: "azure", vault: origin.vaultName.toLowerCase(), name: origin.secretName };
}

/** `arn:aws:sts::<acct>:assumed-role/<role>/<session>` with a credmesh session name. */
function isOwnSession(arn: string, prefix: string): boolean {
  return parseAssumedRoleArn(arn)?.session.startsWith(prefix) ?? false;
}

export { vaultNameOf } from "./destination-name.ts";
export type { Cloud };
