import { CLOUDS, cellToken, type Cloud } from "@credmesh/bus-names";
import { CELL_ID } from "@credmesh/identifiers";

/**
 * credmesh's bus identities: one per role, each allowed exactly what its job needs
 * (permissions.ts). A replicator's identity is per cell, so what it publishes about itself (its
 * clock skew and access-denied observations) cannot be published about another cell.
 * @see ../../../README.md#security-model
 */
export type BusRole =
  | { kind: "ingest" }
  | { kind: "replicator"; destination: Cloud; cell: string }
  | { kind: "identity-watcher" }
  /** People running the `credmesh` CLI: status, reconcile, dead-letter replay, quarantine and release. */
  | { kind: "operator" }
  /** The read-only tap of `credmesh.audit.>` (auditors, on-call). */
  | { kind: "auditor" }
  /** Break-glass: unrestricted, for applying stream configuration changes (`credmesh provision`). Never given to a service. */
  | { kind: "admin" };

export type RoleKind = BusRole["kind"];

/** What a deployment consists of, as far as the bus is concerned. */
export interface BusDeployment {
  /** Partitions per destination (CREDMESH_PARTITIONS); the replicators' consumers are per partition. */
  partitions: number;
  /** Every replicator cell: its destination cloud and cell id (CREDMESH_DESTINATION, CREDMESH_CELL). */
  replicators: ReadonlyArray<{ destination: Cloud; cell: string }>;
}

/** Every identity of a deployment, the fixed roles first. */
export function rolesOf(deployment: BusDeployment): BusRole[] {
  return [
    { kind: "ingest" },
    ...deployment.replicators.map(({ destination, cell }) => ({ kind: "replicator" as const, destination, cell })),
    { kind: "identity-watcher" },
    { kind: "operator" },
    { kind: "auditor" },
    { kind: "admin" },
  ];
}

/**
 * The identity's name, e.g. `ingest`, `replicator-azure-prod-azure-1`: the credential file's name,
 * the comment beside its key in the server configuration, one subject token.
 */
export function roleName(role: BusRole): string {
  return role.kind === "replicator" ? `replicator-${role.destination}-${cellToken(role.cell)}` : role.kind;
}

/**
 * Where replies to the identity's requests arrive (`_INBOX.<name>`): each identity may subscribe
 * to its own inbox only, so no other one reads its JetStream replies or pulled messages.
 */
export function inboxPrefixOf(role: BusRole): string {
  return `_INBOX.${roleName(role)}`;
}

/** Parses `<destination>:<cell>` (how a replicator cell is named on a command line). */
export function parseReplicatorCell(text: string): { destination: Cloud; cell: string } | undefined {
  const [destination, cell, ...rest] = text.split(":");
  if (rest.length > 0 || destination === undefined || cell === undefined) return undefined;
  if (!(CLOUDS as readonly string[]).includes(destination) || !CELL_ID.test(cell)) return undefined;
  return { destination: destination as Cloud, cell };
}
