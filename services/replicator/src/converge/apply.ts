import type { Rule, RuleSet } from "@credmesh/config";
import { CredmeshError, type RetryBudget, withRetry } from "@credmesh/errors";
import { type MutationEvent, type Origin } from "@credmesh/events";
import { isArn, parseAssumedRoleArn, secretNameOfArn } from "@credmesh/identifiers";
import type { Logger, Sensitive } from "@credmesh/logging";
import { DECISION, type Decision } from "@credmesh/metrics";
import { sameOrigin, type OriginRef } from "@credmesh/replicas";
import type { VaultContext, VaultPort } from "@credmesh/vault";
import { admittedRule } from "../admission.ts";
import { destinationLabel, destinationNameOf } from "./destination-name.ts";
import { coveredBack, mayBeReplica, type VaultUrlOf } from "./pairs.ts";
import { decideDelete, decideUpsert, type RefusalReason, type UpsertDecision } from "./policy.ts";
import { completeSide, incomplete, readDestination, readSource, type Retry, type SideState } from "./sides.ts";
import { mutationDigest } from "./stamp.ts";
import { confirmOwnWrite, writeReplica, type Target } from "./write.ts";

export interface ConvergeDeps {
  rules: RuleSet;
  /** The vault a mutation's origin lives in (credentials are the cell's). */
  sourceFor(origin: Origin): VaultPort;
  /** The destination vault of a rule. */
  destinationFor(rule: Rule): VaultPort;
  /** A Key Vault's URL from its name, as the cell resolves source vaults (pairs are told by it). */
  vaultUrlOf: VaultUrlOf;
  contentHashKey: Sensitive<string>;
  budget: RetryBudget;
  /** Role session names of credmesh's own writers start with this (CloudTrail echo check). */
  ownSessionPrefix: string;
  /** Longest wait an in-process retry holds a worker; a longer Retry-After becomes the nak delay. Default 2 s. */
  maxRetryWaitMs?: number;
  now?: () => Date;
}

/** One run of one mutation: its logger, its deadline (and lease) signal, and which delivery it is. */
export interface MutationRun {
  logger: Logger;
  signal?: AbortSignal | undefined;
  /** JetStream's delivery count: above 1, an earlier delivery may have written and not audited. */
  deliveries?: number | undefined;
}

export interface Outcome {
  decision: Decision;
  destination: { vault: string; name: string; versionId?: string; /** A drift overwrite: the hand-made version replaced (never its value). */ replacedVersionId?: string };
  originVersion?: string;
  detail?: string;
}

/**
 * Converges one replica with its source for one mutation: read both sides once, decide in one
 * pure function (converge/policy.ts), perform the one effect it names. The event only says which
 * secret changed; the value is pulled from the source now, so a late or repeated event converges
 * to the current state instead of replaying history. Idempotent, echo-free, ownership-checked.
 *
 * Cloud calls (README "Cloud calls per mutation"): one source value read, one value-free
 * destination read, one write; more only where ownership, a pair or a conflict cannot be known
 * otherwise, or where a recovery or a redelivery asks for it.
 */
export async function applyMutation(event: MutationEvent, deps: ConvergeDeps, run: MutationRun): Promise<Outcome> {
  // Re-checked here too (the consumer admits before its lease): nothing is read for a mutation out of scope.
  const rule = admittedRule(event, deps.rules);
  const origin = event.data.origin;
  const logger = run.logger;
  const ctx: VaultContext = { logger, ...(run.signal ? { signal: run.signal } : {}) };
  const retry: Retry = (operation) =>
    withRetry(operation, {
      maxAttempts: 3,
      budget: deps.budget,
      policy: { baseMs: 200, maxMs: 2_000 },
      maxDelayMs: deps.maxRetryWaitMs ?? 2_000,
      ...(run.signal ? { signal: run.signal } : {}),
      onRetry: (error, attempt, delayMs) => logger.warn({ err: error, attempt, delayMs }, "retrying cloud call"),
    });
  const vaultLabel = destinationLabel(rule);

  // Our own writes come back as cloud events; CloudTrail names the writer, so they stop here.
  const actor = event.data.trigger.actor?.arn;
  if (actor && isOwnSession(actor, deps.ownSessionPrefix)) {
    return { decision: DECISION.skippedEcho, destination: { vault: vaultLabel, name: "" }, detail: "written by credmesh (CloudTrail identity)" };
  }

  const mutation: MutationContext = {
    rule,
    sourceRef: originRefOf(origin),
    source: deps.sourceFor(origin),
    destination: deps.destinationFor(rule),
    vaultLabel,
    digest: mutationDigest(event.id),
    deliveries: run.deliveries ?? 1,
    deps,
    ctx,
    retry,
  };
  const sourceName = origin.cloud === "aws" ? origin.secretId : origin.secretName;
  const sourceSide = await readSource(mutation.source, sourceName, ctx, retry);

  switch (event.data.kind) {
    case "delete":
      return deleteReplica(mutation, sourceName, sourceSide, event.data.deletion?.mode === "force");
    case "restore":
      return restoreReplica(mutation, sourceName, sourceSide);
    case "upsert":
    case "sync":
      if (sourceSide.state === "deleted" && event.data.kind === "sync") return deleteReplica(mutation, sourceName, sourceSide, false);
      return upsert(mutation, sourceName, sourceSide);
  }
}

interface MutationContext {
  rule: Rule;
  sourceRef: OriginRef;
  source: VaultPort;
  destination: VaultPort;
  vaultLabel: string;
  /** Digest of the event id: the write stamp's mutation part. */
  digest: string;
  deliveries: number;
  deps: ConvergeDeps;
  ctx: VaultContext;
  retry: Retry;
}

/** Both sides, read once each (plus what only a further read can tell), and the destination's name. */
interface Sides {
  source: SideState;
  destination: SideState;
  target: Target;
}

async function readSides(m: MutationContext, sourceName: string, sourceSide: SideState): Promise<Sides> {
  const { rule, deps, ctx, retry } = m;
  let source = sourceSide;
  // An echo is known from the source's own stamp: no destination read, no name needed.
  if (source.state === "active" && source.writtenByCredmesh && source.originCloud === rule.destination.cloud) {
    return { source, destination: { state: "absent", writtenByCredmesh: false }, target: { vault: m.vaultLabel, name: "" } };
  }
  let name = destinationNameOf(rule, m.sourceRef, source, deps.vaultUrlOf);
  let destination = await readDestination(m.destination, name, ctx, retry, { forWrite: true });
  // A source whose first read cannot tell whether it is itself credmesh's replica of a
  // destination secret (a pair goes back to its original's name) is read further — only when a
  // rule writes into the source's place, and not when the mapped destination is already this
  // source's replica (then it is not a pair).
  const ours = destination.origin !== undefined && sameOrigin(destination.origin, m.sourceRef);
  if (!ours && incomplete(m.source, source) && mayBeReplica(deps.rules, rule, m.sourceRef, deps.vaultUrlOf)) {
    source = await completeSide(m.source, sourceName, source, ctx, retry);
    const paired = destinationNameOf(rule, m.sourceRef, source, deps.vaultUrlOf);
    if (paired !== name) {
      name = paired;
      destination = await readDestination(m.destination, name, ctx, retry, { forWrite: true });
    }
  }
  // A destination whose current version carries no provenance: whose replica is it?
  if (incomplete(m.destination, destination)) destination = await completeSide(m.destination, name, destination, ctx, retry);
  return { source, destination, target: { vault: m.vaultLabel, name } };
}

async function upsert(m: MutationContext, sourceName: string, sourceSide: SideState, recovered = false): Promise<Outcome> {
  const { rule, deps, ctx, retry } = m;
  const sides = await readSides(m, sourceName, sourceSide);
  const current = sides.source.current;
  const target = sides.target;
  let destination = sides.destination;
  const originVersion = current ? { originVersion: current.versionId } : {};
  const pairCoveredBack = target.name !== "" && coveredBack(deps.rules, rule, target.name, m.sourceRef, deps.vaultUrlOf);
  let wasRecovered = recovered;
  let source = sides.source;
  let sourceHistoryRead = false;
  const decide = (): UpsertDecision =>
    decideUpsert({
      sourceRef: m.sourceRef,
      source,
      destination,
      destinationCloud: rule.destination.cloud,
      pairCoveredBack,
      sourceHistoryRead,
      mutation: m.digest,
      adoptUnmanaged: rule.adoptUnmanaged,
      onDeletedDestination: rule.onDeletedDestination,
      onDrift: rule.onDrift,
    });
  for (;;) {
    let decision = decide();
    if (decision.action === "need_source_history") {
      // A conflict in a pair: which destination version did the source last receive?
      source = await completeSide(m.source, sourceName, source, ctx, retry, { history: true });
      sourceHistoryRead = true;
      decision = decide();
    }
    if (decision.action === "need_created" && destination.current) {
      // Only a conflict in a pair needs the destination version's creation time.
      const versionId = destination.current.versionId;
      const read = await retry(() => m.destination.get(target.name, ctx, { versionId }));
      destination = { ...destination, current: { versionId, createdAt: read?.createdAt } };
      decision = decide();
    }
    ctx.logger.debug({ source: factsOf(source), destination: factsOf(destination), pairCoveredBack, decision }, "decided");
    // A redelivery: did an earlier delivery of this mutation write and lose its answer? Then
    // that write is this mutation's outcome, audited `applied` once.
    if (m.deliveries > 1 && decision.action !== "confirm" && destination.state === "active" && current) {
      const own = await confirmOwnWrite(m.destination, target.name, m.digest, ctx, retry);
      if (own) return { decision: DECISION.applied, destination: { ...target, versionId: own.versionId }, originVersion: own.originVersion, detail: "write confirmed on redelivery (its response was lost)" };
    }
    switch (decision.action) {
      case "refuse":
        throw refusal(decision.reason, rule, target.name);
      case "need_created":
      case "need_source_history":
        throw new CredmeshError("internal", `the facts to decide ${target.name} could not be read`);
      case "skip":
        return {
          decision: decision.decision,
          destination: { ...target, ...(destination.current ? { versionId: destination.current.versionId } : {}) },
          ...originVersion,
          detail: decision.detail,
        };
      case "confirm":
        // The origin version that write carried (its stamp), not the source's current one: the
        // source may have moved on since, and that newer version is another mutation's to write.
        return {
          decision: DECISION.applied,
          destination: { ...target, versionId: decision.versionId },
          ...(destination.copiedVersion ? { originVersion: destination.copiedVersion } : originVersion),
          detail: "write confirmed on redelivery (its response was lost)",
        };
      case "recover":
        if (wasRecovered) throw refusal("deleted_in_destination", rule, target.name);
        // Key Vault: recover, then wait until the secret answers again (404 / 409
        // ObjectIsBeingDeleted while in flight are retryable); Secrets Manager: RestoreSecret.
        await retry(() => m.destination.restore(target.name, ctx));
        ctx.logger.info({ destination: target.name }, "recovered soft-deleted destination before writing");
        wasRecovered = true;
        destination = await readDestination(m.destination, target.name, ctx, retry);
        continue;
      case "write": {
        if (!current) throw new CredmeshError("internal", "write decided without a source version");
        try {
          const written = await writeReplica(m, target, current, destination);
          const replaced = decision.why === "drift" && decision.replaces ? { replacedVersionId: decision.replaces } : {};
          return {
            decision: decision.why === "drift" ? DECISION.overwroteDrift : DECISION.applied,
            destination: { ...target, versionId: written.versionId, ...replaced },
            ...originVersion,
            ...(decision.why === "drift"
              ? { detail: `replaced version ${decision.replaces ?? "?"} written in the destination by someone else (onDrift: overwrite)` }
              : wasRecovered
                ? { detail: "recovered the soft-deleted destination, then wrote" }
                : {}),
          };
        } catch (error) {
          // Deleted between our read and our write (Key Vault 409 ObjectIsDeletedButRecoverable):
          // decide again from a fresh read, once.
          if (!(error instanceof CredmeshError) || error.reason !== "deleted_in_destination" || wasRecovered) throw error;
          destination = await readDestination(m.destination, target.name, ctx, retry);
          wasRecovered = false;
          continue;
        }
      }
    }
  }
}

async function restoreReplica(m: MutationContext, sourceName: string, sourceSide: SideState): Promise<Outcome> {
  const { rule, deps, ctx, retry } = m;
  const name = destinationNameOf(rule, m.sourceRef, sourceSide, deps.vaultUrlOf);
  const replica = await readDestination(m.destination, name, ctx, retry);
  if (replica.state === "deleted" && replica.owner && sameOrigin(replica.owner, m.sourceRef)) {
    await retry(() => m.destination.restore(name, ctx));
    ctx.logger.info({ destination: name }, "replica recovered");
    const converged = await upsert(m, sourceName, sourceSide, true);
    return converged.decision === DECISION.skippedDuplicate ? { ...converged, decision: DECISION.restored } : converged;
  }
  return upsert(m, sourceName, sourceSide);
}

async function deleteReplica(m: MutationContext, _sourceName: string, source: SideState, forceDeleted: boolean): Promise<Outcome> {
  const { rule, deps, ctx, retry } = m;
  const target: Target = { vault: m.vaultLabel, name: "" };
  if (rule.onDelete === "ignore") {
    return { decision: DECISION.skippedAbsent, destination: target, detail: "rule keeps replicas of deleted secrets" };
  }
  if (source.state === "active") {
    return { decision: DECISION.skippedAbsent, destination: target, detail: "the source exists again" };
  }
  target.name = destinationNameOf(rule, m.sourceRef, source, deps.vaultUrlOf);
  let replica = await readDestination(m.destination, target.name, ctx, retry);
  if (incomplete(m.destination, replica)) replica = await completeSide(m.destination, target.name, replica, ctx, retry);
  const decision = decideDelete({
    sourceRef: m.sourceRef,
    source,
    destination: replica,
    destinationCloud: rule.destination.cloud,
    forceDeleted,
    onDelete: rule.onDelete,
    onForceDelete: rule.onForceDelete,
    adoptUnmanaged: rule.adoptUnmanaged,
    onDrift: rule.onDrift,
  });
  switch (decision.action) {
    case "refuse":
      throw refusal(decision.reason, rule, target.name);
    case "skip":
      return { decision: decision.decision, destination: target, detail: decision.detail };
    case "delete":
    {
      const { purged } = await retry(() => m.destination.delete(target.name, { mode: decision.purge ? "force" : "recoverable" }, ctx));
      const detail = decision.purge
        ? purged
          ? "purged (force delete at the source)"
          : // A purge-protected vault keeps the replica recoverable until its retention period ends; no retry changes that.
            "soft-deleted: the vault refuses purge (purge protection); it purges the replica after its retention period"
        : decision.why === "drift"
          ? `deleted with version ${decision.replaces ?? "?"} written in the destination by someone else (onDrift: overwrite)`
          : undefined;
      return {
        decision: DECISION.deleted,
        destination: { ...target, ...(decision.replaces ? { replacedVersionId: decision.replaces } : {}) },
        ...(detail === undefined ? {} : { detail }),
      };
    }
  }
}

/** A side's facts for a debug line: identifiers only, never the value. */
function factsOf(side: SideState): Record<string, unknown> {
  return {
    state: side.state,
    versionId: side.current?.versionId,
    createdAt: side.current?.createdAt,
    origin: side.origin,
    copiedVersion: side.copiedVersion,
    writtenByCredmesh: side.writtenByCredmesh,
  };
}

function refusal(reason: RefusalReason, rule: Rule, name: string): CredmeshError {
  const what = rule.destination.cloud === "azure" ? "Key Vault" : "Secrets Manager";
  const message = {
    unmanaged_destination: `${what} secret ${name} exists and is not managed by credmesh`,
    name_collision: `${what} secret ${name} already replicates another source secret`,
    deleted_in_destination: `${what} secret ${name} is soft-deleted and the rule does not recover it`,
  }[reason];
  return new CredmeshError(reason, message);
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
