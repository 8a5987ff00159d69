import type { AuditRecord } from "@credmesh/events";
import type { ChaosEvent, ChaosSecret } from "./workload.ts";

/**
 * The chaos checker (issue 12 item 3), over what the workload recorded and what the mesh left
 * behind. Pure: the test gathers the facts (the audit trail read back from its stream, the message
 * ids in the mutation stream, every replica's versions), this decides.
 *
 * - **acknowledged**: events a sender got a 2xx for.
 * - **applied**: acknowledged events whose origin version was written to the replica, or that were
 *   decided (an audit record) and found a newer version of the same secret already written —
 *   provably superseded.
 * - **lost**: acknowledged events the mesh never decided on (no audit record after the drain), split
 *   by where they sit among all acknowledged events in acknowledgement order: before the first event
 *   that survived (prefix — a log that lost its head), between survivors (middle — holes), after the
 *   last survivor (postfix — the unsynced tail a power loss takes). `notInStream` counts those also
 *   missing from the mutation stream itself (lost by the bus, not by a consumer).
 * - **duplicated writes**: replica versions carrying an origin version that was already written;
 *   and `applied` audit records of one origin version beyond the first.
 */
export interface ChaosFacts {
  events: readonly ChaosEvent[];
  /** Every audit record of the run's destinations, read back from the audit stream. */
  audits: readonly AuditRecord[];
  /** Message ids present in the mutation stream after the run. */
  streamIds: ReadonlySet<string>;
  /** Per secret: the origin version of every replica version, oldest first (from the destination vault). */
  replicaVersions: ReadonlyMap<ChaosSecret, readonly string[]>;
}

export interface PhaseCounts {
  acknowledged: number;
  /** Changes whose delivery the sender gave up on (never acknowledged). */
  unacknowledged: number;
  applied: number;
  superseded: number;
  lost: number;
  lostPrefix: number;
  lostMiddle: number;
  lostPostfix: number;
  notInStream: number;
  duplicatedWrites: number;
  duplicatedAppliedRecords: number;
}

const empty = (): PhaseCounts => ({
  acknowledged: 0,
  unacknowledged: 0,
  applied: 0,
  superseded: 0,
  lost: 0,
  lostPrefix: 0,
  lostMiddle: 0,
  lostPostfix: 0,
  notInStream: 0,
  duplicatedWrites: 0,
  duplicatedAppliedRecords: 0,
});

export interface ChaosVerdict {
  /** Per phase (the phase an event's change was made in), and `total`. */
  phases: Record<string, PhaseCounts>;
  /** Acknowledged events neither applied nor superseded, described (empty when all is well). */
  unexplained: string[];
  /** Duplicated writes, described. */
  duplicates: string[];
}

export function checkChaos(facts: ChaosFacts): ChaosVerdict {
  const decided = new Set(facts.audits.map((record) => record.eventId));
  const phases: Record<string, PhaseCounts> = { total: empty() };
  const counts = (phase: string): PhaseCounts[] => [(phases[phase] ??= empty()), phases.total as PhaseCounts];
  const unexplained: string[] = [];
  const duplicates: string[] = [];

  const acknowledged = facts.events.filter((event) => event.delivery.ackedAt !== undefined).sort((a, b) => (a.delivery.ackedAt ?? 0) - (b.delivery.ackedAt ?? 0));
  for (const event of facts.events) if (event.delivery.ackedAt === undefined) for (const c of counts(event.phase)) c.unacknowledged++;

  const survived = acknowledged.map((event) => decided.has(event.eventId));
  const firstSurvivor = survived.indexOf(true);
  const lastSurvivor = survived.lastIndexOf(true);
  acknowledged.forEach((event, position) => {
    const tallies = counts(event.phase);
    for (const c of tallies) c.acknowledged++;
    const written = facts.replicaVersions.get(event.secret) ?? [];
    if (!decided.has(event.eventId)) {
      for (const c of tallies) {
        c.lost++;
        if (firstSurvivor === -1 || position < firstSurvivor) c.lostPrefix++;
        else if (position > lastSurvivor) c.lostPostfix++;
        else c.lostMiddle++;
        if (!facts.streamIds.has(event.eventId)) c.notInStream++;
      }
      unexplained.push(`${event.secret.name} v${event.index + 1} (event ${event.eventId}): acknowledged, never decided${facts.streamIds.has(event.eventId) ? "" : ", not in the stream"}`);
      return;
    }
    if (written.includes(event.version)) {
      for (const c of tallies) c.applied++;
      return;
    }
    const newer = event.secret.versions.slice(event.index + 1);
    if (written.some((origin) => newer.includes(origin))) {
      for (const c of tallies) {
        c.applied++;
        c.superseded++;
      }
      return;
    }
    unexplained.push(`${event.secret.name} v${event.index + 1} (event ${event.eventId}): decided, but neither it nor a newer version is in the replica`);
  });

  // Duplicated writes: per secret, replica versions of one origin version beyond the first, and
  // `applied` audit records of one origin version beyond the first. Attributed to the phase of the
  // change that made that version.
  const phaseOfVersion = new Map<string, string>(facts.events.map((event) => [event.version, event.phase]));
  for (const [secret, written] of facts.replicaVersions) {
    const seen = new Set<string>();
    for (const origin of written) {
      if (!seen.has(origin)) {
        seen.add(origin);
        continue;
      }
      for (const c of counts(phaseOfVersion.get(origin) ?? "unknown")) c.duplicatedWrites++;
      duplicates.push(`${secret.name}: version ${secret.versions.indexOf(origin) + 1} written again`);
    }
  }
  const firstApplied = new Map<string, AuditRecord>();
  const describe = (record: AuditRecord): string => `${record.cell} at ${record.at} (event ${record.eventId}, version ${record.destination.versionId ?? "?"}${record.detail ? `, "${record.detail}"` : ""})`;
  for (const record of facts.audits) {
    if (record.decision !== "applied" || record.originVersion === undefined) continue;
    const key = `${record.destination.cloud}/${record.originVersion}`;
    const first = firstApplied.get(key);
    if (!first) {
      firstApplied.set(key, record);
      continue;
    }
    for (const c of counts(phaseOfVersion.get(record.originVersion) ?? "unknown")) c.duplicatedAppliedRecords++;
    duplicates.push(`origin version ${record.originVersion}: applied by ${describe(first)}, applied again by ${describe(record)}`);
  }
  return { phases, unexplained, duplicates };
}
