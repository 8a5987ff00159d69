import { randomUUID } from "node:crypto";
import type { BusPublisher } from "@credmesh/bus";
import type { Rule, RuleSet } from "@credmesh/config";
import { type RetryBudget, withRetry } from "@credmesh/errors";
import type { Origin } from "@credmesh/events";
import type { Logger } from "@credmesh/logging";
import { RECONCILE_OUTCOME, type Metrics } from "@credmesh/metrics";
import type { Cloud } from "@credmesh/bus-names";
import type { ListedSecret, VaultContext, VaultPort } from "@credmesh/vault";
import { destinationLabel, destinationNameOf } from "../converge/destination-name.ts";
import { readProvenance, type OriginRef } from "@credmesh/replicas";
import { coveredBack } from "../converge/pairs.ts";
import type { Retry, SideState } from "../converge/sides.ts";
import { correctiveEvent, originOf } from "./corrective.ts";
import { KnownVersions, listedUntil } from "./known-versions.ts";
import type { ProvedVersionStore } from "./proved-versions.ts";
import { publishCorrections, type Pending } from "./publish.ts";
import { decideSource, decideUnclaimed, listedSide, type ResolvedVersions, type Verdict } from "./decide.ts";
import {
  accountOfArn,
  destinationPlaceKey,
  refOfEntry,
  sourcePlaceKey,
  sourcePlacesOf,
  type DestinationPlace,
  type Place,
  listVault,
  mapLimit,
  nameKey,
  originKey,
  resolveVersions,
  ruleOfOrigin,
} from "./inventory.ts";
import {
  ACTION,
  MAX_REPORTED_FINDINGS,
  REASON,
  STATUS,
  emptyCounts,
  runErrorOf,
  type Finding,
  type ReconcileReport,
  type RunError,
  type SecretIdentity,
} from "./report.ts";

export interface ReconcilerDeps {
  destination: Cloud;
  cell: string;
  rules: RuleSet;
  /** The replicator's own vault adapters, so a run lists with the same credentials and limits. */
  vaults: { sourceFor(origin: Origin): VaultPort; destinationFor(rule: Rule): VaultPort };
  /**
   * The account the cell's AWS credentials act in (its role's). A region's listing proves that
   * account's secrets gone even when the region holds no secret at all (no ARN to learn it from).
   */
  awsAccount?: string;
  /** A Key Vault's URL from its name, as the replicator resolves source vaults. */
  vaultUrlOf(vaultName: string): string;
  publisher: Pick<BusPublisher, "publishMutation" | "publishRecord">;
  metrics: Pick<Metrics, "reconcileActions" | "reconcileRunDuration" | "replicationDecisions">;
  budget: RetryBudget;
  /** Most deletes one run publishes; beyond it they are held and reported (0: never delete). */
  maxDeletes: number;
  /**
   * Where the Key Vault source versions proved by runs are kept beyond the process (the bus), so
   * a restarted replicator does not read every source's version list again. Memory only without.
   */
  provedVersions?: ProvedVersionStore;
  logger: Logger;
  now?: () => Date;
}

export interface RunOptions {
  dryRun: boolean;
  trigger: ReconcileReport["trigger"];
  /** Aborts listing and publishing (shutdown, or the run lock was lost). */
  signal?: AbortSignal;
}

interface Candidate {
  rule: Rule;
  place: DestinationPlace;
  sourcePlace: Place;
  ref: OriginRef;
  entry: ListedSecret;
  side?: SideState;
  destinationName?: string;
}

/** What a verdict is about: the rule, the source's identity and side, the destination secret. */
interface Subject {
  rule?: Rule;
  ref: OriginRef;
  source?: SideState;
  sourceEntry?: ListedSecret;
  place: DestinationPlace;
  name: string;
}

/**
 * How far this host's clock may be from a vault's: twice the default identity clock-skew tolerance
 * (README "Identity: clock skew"; STS refuses tokens beyond 5 minutes).
 */
const HOST_CLOCK_ALLOWANCE_MS = 600_000;

/** Key Vault lookups in flight at once during a run. */
const RESOLVE_CONCURRENCY = 8;

/**
 * Anti-entropy for one destination cloud: lists every source in scope of the rules that write
 * here and every destination they write to, compares them without reading values, and publishes
 * corrective `sync` / `delete` mutations for what the events missed. The replicator applies them
 * like any mutation — re-reading both sides, idempotently, in per-secret order — so a run is
 * safe while events flow: at worst a correction arrives after the event already converged the
 * secret, and the replicator skips it as a duplicate.
 * @see ../../../../README.md#anti-entropy
 */
export class Reconciler {
  readonly #deps: ReconcilerDeps;
  /** Key Vault sources' current versions proved by earlier runs: their version lists are not read again. */
  readonly #known: KnownVersions;

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
    this.#known = new KnownVersions({ store: deps.provedVersions });
  }

  async run(options: RunOptions): Promise<ReconcileReport> {
    const deps = this.#deps;
    const now = deps.now ?? (() => new Date());
    const runId = randomUUID();
    const started = now();
    const logger = deps.logger.child({ reconcileRun: runId, trigger: options.trigger, dryRun: options.dryRun });
    const ctx: VaultContext = { logger, ...(options.signal ? { signal: options.signal } : {}) };
    const retry: Retry = (operation) =>
      withRetry(operation, {
        maxAttempts: 3,
        budget: deps.budget,
        policy: { baseMs: 200, maxMs: 2_000 },
        ...(options.signal ? { signal: options.signal } : {}),
        onRetry: (error, attempt, delayMs) => logger.warn({ err: error, attempt, delayMs }, "retrying cloud call"),
      });
    const errors: RunError[] = [];
    let pending: Pending[] = [];
    let unchanged = 0;
    let outcome: string;
    try {
      const rules = deps.rules.filter((rule) => rule.destination.cloud === deps.destination);
      // Before any listing: the vaults' clocks had reached this, less the skew a working host can have.
      const listedAfter = now().getTime() - HOST_CLOCK_ALLOWANCE_MS;
      const { destinations, candidates, sourcePlaces } = await this.#inventory(rules, ctx, retry, errors);
      const resolvedDestinations = await this.#resolve(candidates, ctx, retry, errors, listedAfter);
      const listedOrigins = new Set<string>();
      for (const place of sourcePlaces.values()) {
        for (const entry of place.entries ?? []) {
          const ref = refOfEntry(place, entry);
          if (ref) listedOrigins.add(originKey(ref));
        }
      }
      const correlationId = `reconcile-${runId}`;
      const record = (verdict: Verdict, subject: Subject): void => {
        if (verdict.kind === "unchanged") {
          unchanged++;
        } else if (verdict.kind === "unverifiable") {
          const rule = subject.rule ? { rule: subject.rule.id } : {};
          errors.push({ scope: `replica ${subject.place.label}/${subject.name}`, reason: "source_unverifiable", message: `cannot prove ${originKey(subject.ref)} gone: ${verdict.why}`, ...rule });
        } else {
          pending.push(this.#pending(verdict, subject, { dryRun: options.dryRun, correlationId, now: now() }));
        }
      };

      for (const candidate of candidates) {
        if (!candidate.side || candidate.destinationName === undefined) continue;
        const place = candidate.place;
        const destinationEntry = place.byName.get(nameKey(place.cloud, candidate.destinationName));
        const verdict = decideSource({
          rule: candidate.rule,
          sourceRef: candidate.ref,
          source: candidate.side,
          destination: listedSide(place.vault.tagsPerVersion, destinationEntry, destinationEntry ? resolvedDestinations.get(destinationEntry) : undefined),
          pairCoveredBack: coveredBack(deps.rules, candidate.rule, candidate.destinationName, candidate.ref, (vault) => deps.vaultUrlOf(vault)),
        });
        record(verdict, {
          rule: candidate.rule,
          ref: candidate.ref,
          source: candidate.side,
          sourceEntry: candidate.entry,
          place,
          name: destinationEntry?.name ?? candidate.destinationName,
        });
      }

      for (const place of destinations.values()) {
        if (place.failed) continue;
        for (const entry of place.entries ?? []) {
          if (place.claimed.has(nameKey(place.cloud, entry.name))) continue;
          const replica = listedSide(place.vault.tagsPerVersion, entry);
          const owner = replica.owner;
          if (replica.state !== "active" || !owner) continue;
          const rule = ruleOfOrigin(deps.rules, owner);
          const writesHere = rule !== undefined && rule.destination.cloud === deps.destination && destinationPlaceKey(rule) === place.key;
          const sourcePlace = writesHere ? sourcePlaces.get(sourcePlaceKey(owner)) : undefined;
          if (writesHere && (!sourcePlace || sourcePlace.failed)) continue; // its listing error is reported already
          const verdict = decideUnclaimed({
            destinationCloud: deps.destination,
            replica,
            rule: writesHere ? rule : undefined,
            sourceListed: listedOrigins.has(originKey(owner)),
            sourcePlaceListed: sourcePlace !== undefined && (owner.cloud === "azure" || sourcePlace.accounts.has(owner.account)),
          });
          record(verdict, { ...(writesHere ? { rule } : {}), ref: owner, place, name: entry.name });
        }
      }

      pending = this.#holdExcessDeletes(pending, options.dryRun, errors);
      if (!options.dryRun) {
        const { destination, cell, publisher, metrics } = deps;
        await publishCorrections(pending, runId, { destination, cell, publisher, metrics, logger, now }, options.signal, errors);
      }
      outcome = errors.length > 0 ? RECONCILE_OUTCOME.errors : RECONCILE_OUTCOME.ok;
    } catch (error) {
      outcome = RECONCILE_OUTCOME.failed;
      errors.push(runErrorOf("run", error));
    }

    const finished = now();
    const counts = emptyCounts();
    for (const { finding } of pending) {
      counts[finding.action]++;
      if (!options.dryRun && (finding.status === STATUS.published || finding.status === STATUS.reported)) {
        deps.metrics.reconcileActions.inc({ destination: deps.destination, action: finding.action });
      }
    }
    counts.unchanged = unchanged;
    counts.errors = errors.length;
    deps.metrics.reconcileRunDuration.observe({ destination: deps.destination, outcome }, (finished.getTime() - started.getTime()) / 1000);
    // Corrective actions first: they are what an operator asked for.
    const findings = pending.map(({ finding }) => finding).sort((a, b) => rank(a) - rank(b));
    const report: ReconcileReport = {
      runId,
      destination: deps.destination,
      cell: deps.cell,
      dryRun: options.dryRun,
      trigger: options.trigger,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
      counts,
      actions: findings.slice(0, MAX_REPORTED_FINDINGS),
      ...(findings.length > MAX_REPORTED_FINDINGS ? { truncated: true } : {}),
      errors,
    };
    logger.info({ counts, durationMs: report.durationMs, outcome, errors: errors.slice(0, 20) }, "reconcile run finished");
    return report;
  }

  /** A finding, and for a corrective one the mutation that carries it. */
  #pending(verdict: Exclude<Verdict, { kind: "unchanged" | "unverifiable" }>, subject: Subject, run: { dryRun: boolean; correlationId: string; now: Date }): Pending {
    const { rule, ref, source, place, name } = subject;
    const corrective = verdict.kind === "sync" || verdict.kind === "delete";
    const finding: Finding = {
      action: verdict.kind,
      reason: verdict.reason,
      ...(rule ? { rule: rule.id } : {}),
      source: identityOf(ref, source?.current?.versionId),
      destination: { vault: place.label, name },
      status: !corrective ? STATUS.reported : run.dryRun ? STATUS.dryRun : STATUS.published,
    };
    if ((verdict.kind !== "sync" && verdict.kind !== "delete") || !rule) return { finding };
    const at = (date: Date | undefined): string => (date ? `@${Math.floor(date.getTime() / 1000)}` : "");
    // The id names the difference: the same one found again (another replica, the next run)
    // deduplicates; a new one (deleted again later, a newer version) does not.
    const state =
      verdict.kind === "sync" ? (source?.current?.versionId ?? "current") : source?.state === "deleted" ? `deleted${at(subject.sourceEntry?.deletedAt)}` : "gone";
    const reason = verdict.reason === REASON.replicaDeleted ? `${verdict.reason}${at(place.byName.get(nameKey(place.cloud, name))?.deletedAt)}` : verdict.reason;
    const event = correctiveEvent({
      destination: this.#deps.destination,
      kind: verdict.kind,
      rule: rule.id,
      origin: originOf(ref, verdict.kind === "sync" ? source?.current?.versionId : undefined),
      state,
      reason,
      correlationId: run.correlationId,
      now: run.now,
    });
    finding.eventId = event.id;
    return { finding, event };
  }

  /** Lists every destination and source place the rules name, each once. */
  async #inventory(rules: readonly Rule[], ctx: VaultContext, retry: Retry, errors: RunError[]) {
    const deps = this.#deps;
    const destinations = new Map<string, DestinationPlace>();
    const sourcePlaces = new Map<string, Place>();
    const candidates: Candidate[] = [];
    const listPlace = async (place: Place, scope: string, rule: Rule): Promise<void> => {
      try {
        place.entries = await listVault(place.vault, ctx, retry);
        for (const entry of place.entries) {
          const account = accountOfArn(entry.id);
          if (account) place.accounts.add(account);
        }
      } catch (error) {
        place.failed = true;
        errors.push(runErrorOf(scope, error, rule.id));
      }
    };
    for (const rule of rules) {
      const key = destinationPlaceKey(rule);
      let place = destinations.get(key);
      if (!place) {
        place = {
          key,
          label: destinationLabel(rule),
          cloud: rule.destination.cloud,
          vault: deps.vaults.destinationFor(rule),
          accounts: new Set(),
          failed: false,
          byName: new Map(),
          claimed: new Set(),
        };
        destinations.set(key, place);
        await listPlace(place, `list ${place.label}`, rule);
        for (const entry of place.entries ?? []) {
          const name = nameKey(place.cloud, entry.name);
          // A name both active and deleted cannot exist in Key Vault; in Secrets Manager the
          // active secret is the one a write meets.
          if (!place.byName.has(name) || entry.state === "active") place.byName.set(name, entry);
        }
      }
      if (place.failed) continue;
      for (const source of sourcePlacesOf(rule)) {
        let sourcePlace = sourcePlaces.get(source.key);
        if (!sourcePlace) {
          sourcePlace = {
            key: source.key,
            label: source.key,
            cloud: rule.source.cloud,
            vault: deps.vaults.sourceFor(source.origin),
            accounts: new Set(deps.awsAccount && source.origin.cloud === "aws" ? [deps.awsAccount] : []),
            failed: false,
            ...(source.origin.cloud === "aws" ? { region: source.origin.region } : { vaultName: source.origin.vaultName }),
          };
          sourcePlaces.set(source.key, sourcePlace);
          await listPlace(sourcePlace, `list ${source.key}`, rule);
        }
        for (const entry of sourcePlace.entries ?? []) {
          const ref = refOfEntry(sourcePlace, entry);
          if (ref && ruleOfOrigin(deps.rules, ref)?.id === rule.id) candidates.push({ rule, place, sourcePlace, ref, entry });
        }
      }
    }
    return { destinations, candidates, sourcePlaces };
  }

  /**
   * Reads each candidate as a side (Key Vault sources need their version metadata), maps it to
   * its destination name exactly as the replicator does, and resolves the Key Vault destinations
   * whose current version has no provenance.
   */
  async #resolve(candidates: Candidate[], ctx: VaultContext, retry: Retry, errors: RunError[], listedAfter: number): Promise<Map<ListedSecret, ResolvedVersions>> {
    const deps = this.#deps;
    const listedAt = new Map<Place, number | undefined>();
    const vaultTime = (place: Place): number | undefined => {
      if (!listedAt.has(place)) listedAt.set(place, Math.max(listedAfter, listedUntil(place.entries ?? []) ?? listedAfter));
      return listedAt.get(place);
    };
    this.#known.beginRun();
    await mapLimit(candidates, RESOLVE_CONCURRENCY, async (candidate) => {
      const { entry, sourcePlace } = candidate;
      try {
        const own = readProvenance(entry.tags);
        // A listing without the current version id (Key Vault) needs the version metadata, unless
        // the entry is credmesh's own copy from the destination (an echo, decided without it), or
        // an earlier run proved which version the listing shows.
        const needsVersions = entry.currentVersionId === undefined && entry.state === "active" && own?.origin.cloud !== deps.destination;
        const key = originKey(candidate.ref);
        const recalled = needsVersions ? await this.#known.recall(key, entry) : undefined;
        let resolved: ResolvedVersions | undefined = recalled === undefined ? undefined : { currentVersionId: recalled };
        if (needsVersions && resolved === undefined) {
          resolved = await resolveVersions(sourcePlace.vault, entry.name, ctx, retry, true);
          const side = listedSide(sourcePlace.vault.tagsPerVersion, entry, resolved);
          const withoutHistory = listedSide(sourcePlace.vault.tagsPerVersion, entry, resolved.currentVersionId ? { currentVersionId: resolved.currentVersionId } : {});
          // Remembered only where the older versions add nothing to the decision.
          if (JSON.stringify(side) === JSON.stringify(withoutHistory)) this.#known.learn(key, entry, resolved.currentVersionId, vaultTime(sourcePlace));
        }
        candidate.side = listedSide(sourcePlace.vault.tagsPerVersion, entry, resolved);
        candidate.destinationName = destinationNameOf(candidate.rule, candidate.ref, candidate.side, (vault) => deps.vaultUrlOf(vault));
        candidate.place.claimed.add(nameKey(candidate.place.cloud, candidate.destinationName));
      } catch (error) {
        errors.push(runErrorOf(`source ${originKey(candidate.ref)}`, error, candidate.rule.id));
      }
    });
    const stored = await this.#known.endRun({ complete: errors.length === 0 });
    if (stored.failed > 0) ctx.logger.warn({ ...stored }, "proved source versions could not all be read or kept on the bus; a later run reads their version lists");
    const targets = new Set<{ place: DestinationPlace; entry: ListedSecret }>();
    const seen = new Set<ListedSecret>();
    for (const candidate of candidates) {
      // Where tags are per version, a current version without provenance (a person's) needs the
      // older versions to tell whose replica the secret is.
      if (candidate.destinationName === undefined || !candidate.place.vault.tagsPerVersion) continue;
      const entry = candidate.place.byName.get(nameKey(candidate.place.cloud, candidate.destinationName));
      if (!entry || entry.state !== "active" || readProvenance(entry.tags) || seen.has(entry)) continue;
      seen.add(entry);
      targets.add({ place: candidate.place, entry });
    }
    const resolved = new Map<ListedSecret, ResolvedVersions>();
    await mapLimit([...targets], RESOLVE_CONCURRENCY, async ({ place, entry }) => {
      try {
        resolved.set(entry, await resolveVersions(place.vault, entry.name, ctx, retry, entry.currentVersionId === undefined));
      } catch (error) {
        errors.push(runErrorOf(`replica ${place.label}/${entry.name}`, error));
      }
    });
    return resolved;
  }

  /** More deletes than allowed in one run usually means a listing or rule mistake: hold them all. */
  #holdExcessDeletes(pending: Pending[], dryRun: boolean, errors: RunError[]): Pending[] {
    const deletes = pending.filter(({ finding }) => finding.action === ACTION.delete);
    if (deletes.length <= this.#deps.maxDeletes) return pending;
    errors.push({
      scope: "run",
      reason: "too_many_deletes",
      message: `${deletes.length} replicas would be deleted, more than CREDMESH_RECONCILE_MAX_DELETES=${this.#deps.maxDeletes}; none were${dryRun ? " (dry run)" : ""}`,
    });
    return pending.map((item) => (item.finding.action === ACTION.delete ? { finding: { ...item.finding, status: STATUS.held } } : item));
  }
}

function identityOf(ref: OriginRef, versionId: string | undefined): SecretIdentity {
  const version = versionId ? { versionId } : {};
  return ref.cloud === "aws"
    ? { cloud: "aws", account: ref.account, region: ref.region, name: ref.name, ...version }
    : { cloud: "azure", vault: ref.vault, name: ref.name, ...version };
}

function rank(finding: Finding): number {
  return [ACTION.delete, ACTION.sync, ACTION.conflict, ACTION.orphan].indexOf(finding.action);
}
