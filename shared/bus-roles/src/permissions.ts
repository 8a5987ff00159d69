import {
  CLOUDS,
  COORDINATION_BUCKETS,
  IDENTITY_WATCHER_DURABLES,
  KV_BUCKETS,
  OBSERVATION_KINDS,
  PREFIX,
  QUARANTINE_COMMANDS,
  STREAMS,
  cellKey,
  controlSubject,
  deadLetterSubject,
  destinationKey,
  identityDeadLetterSubject,
  identitySubject,
  replicatorDurable,
} from "@credmesh/bus-names";
import { JS_API, kvStream, kvSubject } from "./js-api.ts";
import { inboxPrefixOf, type BusDeployment, type BusRole } from "./roles.ts";

/**
 * What each bus identity may publish and subscribe to — the one description the nats-server
 * authorization is rendered from (render.ts). Each grant says why the role needs it. Anything not
 * granted is refused by the server: no role but `admin` may change or delete a stream, purge one,
 * or touch a consumer that is not its own.
 * @see ../../../README.md#security-model
 */

/** One permission, and why the role needs it. */
export interface Grant {
  why: string;
  publish?: readonly string[];
  subscribe?: readonly string[];
}

/** A role's permissions as nats-server takes them. `undefined` lists mean unrestricted (admin only). */
export interface Permissions {
  publish: { allow?: string[]; deny?: string[] } | undefined;
  subscribe: { allow?: string[]; deny?: string[] } | undefined;
  /** May answer requests it received (reply subjects only, once each, for a limited time). */
  allowResponses: boolean;
}

const CREDMESH_STREAMS = Object.values(STREAMS).map((stream) => stream.name);

/** What every service does at boot and for /readyz: read the streams, create a missing one (never change one). */
const PROVISION_STREAMS: Grant = {
  why: "check the credmesh streams exist (boot, /readyz) and create a missing one — never change or delete one",
  publish: [JS_API.info, ...CREDMESH_STREAMS.flatMap((stream) => [JS_API.streamInfo(stream), JS_API.streamCreate(stream)])],
};

function inbox(role: BusRole): Grant {
  return { why: "receive replies to its own requests (JetStream API, pulled messages) in its own inbox", subscribe: [`${inboxPrefixOf(role)}.>`] };
}

/**
 * Use of a KV bucket: find or create it; read `keys` (a key pattern); with `write`, write them too.
 * `watch` adds the ordered consumers a watch or key listing needs, on the same keys.
 */
function kvBucket(bucket: string, keys: string, access: { write: boolean; watch: boolean }, why: string): Grant {
  const stream = kvStream(bucket);
  const subject = kvSubject(bucket, keys);
  return {
    why,
    publish: [
      JS_API.info,
      JS_API.streamInfo(stream),
      JS_API.streamCreate(stream),
      JS_API.directGet(stream, subject),
      ...(access.watch
        ? [`${JS_API.consumerCreate(stream, "*")}.${subject}`, JS_API.consumerInfo(stream, "*"), JS_API.consumerDelete(stream, "*"), JS_API.flowControl(stream)]
        : []),
      ...(access.write ? [subject] : []),
    ],
  };
}

/** Pull, acknowledge and (re)define one's own durable consumers, nobody else's. */
function ownConsumers(stream: string, durables: readonly string[], why: string): Grant {
  return {
    why,
    publish: durables.flatMap((durable) => [
      JS_API.consumerInfo(stream, durable),
      JS_API.consumerCreate(stream, durable),
      `${JS_API.consumerCreate(stream, durable)}.>`,
      // A durable with several filter subjects (the watcher's observations) is created this way.
      JS_API.durableCreate(stream, durable),
      JS_API.consumerNext(stream, durable),
      JS_API.ack(stream, durable),
    ]),
  };
}

/**
 * What every service needs for the bus dashboard's gauges (@credmesh/bus reportBusState): each
 * stream's info (in PROVISION_STREAMS) and the list of its consumers with their counts. It reads
 * no message.
 */
const REPORT_BUS_STATE: Grant = {
  why: "report the streams' and their consumers' counts as gauges (the bus dashboard); reads no message",
  publish: CREDMESH_STREAMS.map((stream) => JS_API.consumerList(stream)),
};

function partitions(deployment: BusDeployment): number[] {
  return Array.from({ length: deployment.partitions }, (_, partition) => partition);
}

/** The grants of a role in a deployment, in the order the README explains them. */
export function grantsOf(role: BusRole, deployment: BusDeployment): Grant[] {
  switch (role.kind) {
    case "ingest":
      return [
        inbox(role),
        PROVISION_STREAMS,
        REPORT_BUS_STATE,
        { why: "publish the mutations it normalized, for every destination", publish: CLOUDS.map((cloud) => `${PREFIX}.mutation.${cloud}.*`) },
        { why: "publish Key Vault lifecycle events for the identity-watcher", publish: [`${PREFIX}.lifecycle.*.*`] },
      ];
    case "replicator":
      return replicatorGrants(role, deployment);
    case "identity-watcher":
      return watcherGrants(role);
    case "operator":
      return operatorGrants(role);
    case "auditor":
      return [{ why: "tap the audit records live (`nats sub 'credmesh.audit.>'`); it publishes nothing", subscribe: [`${PREFIX}.audit.>`] }];
    case "admin":
      return [{ why: "everything (break-glass; applies stream configuration changes): never given to a service" }];
  }
}

function replicatorGrants(role: Extract<BusRole, { kind: "replicator" }>, deployment: BusDeployment): Grant[] {
  const { destination, cell } = role;
  const mutations = STREAMS.mutations.name;
  return [
    inbox(role),
    PROVISION_STREAMS,
    REPORT_BUS_STATE,
    ownConsumers(
      mutations,
      partitions(deployment).map((partition) => replicatorDurable(destination, partition)),
      `pull and settle the mutations of its destination (${destination}), one durable consumer per partition — no other destination's`,
    ),
    {
      why: "remove the single destination-wide consumer of earlier releases (once, at upgrade)",
      publish: [JS_API.consumerDelete(mutations, replicatorDurable(destination))],
    },
    {
      why: "publish the corrective mutations of its reconcile runs — its own destination only, re-checked by every replicator like any mutation",
      publish: [`${PREFIX}.mutation.${destination}.*`],
    },
    { why: "record its decisions and dead letters", publish: [`${PREFIX}.audit.${destination}.*`, deadLetterSubject(destination)] },
    {
      why: "report its own cell's clock skew and access-denied observations to the identity-watcher — no other cell's",
      publish: OBSERVATION_KINDS.map((kind) => identitySubject(cell, kind)),
    },
    kvBucket(KV_BUCKETS.quarantine, cellKey(cell), { write: false, watch: true }, "watch its own cell's quarantine state (read only: only the identity-watcher writes it)"),
    kvBucket(COORDINATION_BUCKETS.secretLeases, `${destinationKey(destination)}.*`, { write: true, watch: false }, "take, renew and release per-secret leases of its destination"),
    kvBucket(COORDINATION_BUCKETS.reconcileLock, destinationKey(destination), { write: true, watch: false }, "take the reconcile lock of its destination"),
    kvBucket(COORDINATION_BUCKETS.reconcileRuns, destinationKey(destination), { write: true, watch: false }, "record its destination's reconcile runs"),
    kvBucket(
      COORDINATION_BUCKETS.reconcileVersions,
      `${destinationKey(destination)}.*`,
      { write: true, watch: false },
      "remember which Key Vault source versions its destination's reconcile runs proved current (version metadata, no value)",
    ),
    {
      why: "answer `credmesh reconcile` for its destination (reply only to the requester)",
      subscribe: [controlSubject("reconcile", destination)],
    },
  ];
}

function watcherGrants(role: BusRole): Grant[] {
  const identity = STREAMS.identity.name;
  const lifecycle = STREAMS.lifecycle.name;
  return [
    inbox(role),
    PROVISION_STREAMS,
    REPORT_BUS_STATE,
    ownConsumers(lifecycle, [IDENTITY_WATCHER_DURABLES.lifecycle], "consume Key Vault certificate lifecycle events"),
    ownConsumers(identity, [IDENTITY_WATCHER_DURABLES.observations], "consume the replicators' observations"),
    {
      why: "publish certificate and quarantine events of any cell — never a replicator's observation kinds",
      publish: [`${PREFIX}.identity.*.*`],
    },
    { why: "audit quarantine and release; record what it refuses as dead letters", publish: [`${PREFIX}.audit.quarantine.*`, identityDeadLetterSubject()] },
    { why: "find a quarantine transition whose audit record is missing after a restart", publish: [JS_API.streamMsgGet(STREAMS.audit.name)] },
    kvBucket(KV_BUCKETS.quarantine, ">", { write: true, watch: true }, "own the quarantine state of every cell (the only writer)"),
    {
      // A direct get may be answered by a replica that is behind; a transition decided from it could undo a newer one.
      why: "read the quarantine state from the bucket's leader, which has every acknowledged write",
      publish: [JS_API.streamMsgGet(kvStream(KV_BUCKETS.quarantine))],
    },
    kvBucket(KV_BUCKETS.identityState, ">", { write: true, watch: true }, "keep its judged certificate states and policy evidence"),
    {
      why: "answer `credmesh quarantine` / `release` (reply only to the requester)",
      subscribe: QUARANTINE_COMMANDS.map((command) => `${PREFIX}.control.${command}.*`),
    },
  ];
}

function operatorGrants(role: BusRole): Grant[] {
  const dlq = STREAMS.deadLetters.name;
  const audit = STREAMS.audit.name;
  const scanned = [dlq, audit];
  return [
    inbox(role),
    {
      why: "`credmesh status`: read stream, consumer and quarantine state",
      publish: [
        JS_API.info,
        JS_API.streamNames,
        ...[...CREDMESH_STREAMS, kvStream(KV_BUCKETS.quarantine)].map((stream) => JS_API.streamInfo(stream)),
        JS_API.consumerList(STREAMS.mutations.name),
        JS_API.consumerInfo(STREAMS.mutations.name, "*"),
      ],
    },
    kvBucket(KV_BUCKETS.quarantine, ">", { write: false, watch: true }, "`credmesh status`: every cell's quarantine state (read only)"),
    {
      why: "read dead letters and audit records without consuming them (a short-lived consumer of its own)",
      publish: scanned.flatMap((stream) => [
        `${JS_API.consumerCreate(stream, "*")}.>`,
        JS_API.consumerInfo(stream, "*"),
        JS_API.consumerNext(stream, "*"),
        JS_API.consumerDelete(stream, "*"),
      ]),
    },
    {
      why: "`credmesh dlq replay`: read a dead letter, republish its mutation, then delete the record",
      publish: [JS_API.streamMsgGet(dlq), JS_API.streamMsgDelete(dlq), ...CLOUDS.map((cloud) => `${PREFIX}.mutation.${cloud}.*`)],
    },
    {
      why: "request reconcile, quarantine and release (the services check each request)",
      publish: [...CLOUDS.map((cloud) => controlSubject("reconcile", cloud)), ...QUARANTINE_COMMANDS.map((command) => `${PREFIX}.control.${command}.*`)],
    },
  ];
}

/**
 * Subjects a role is denied even where an allow pattern would match: the watcher publishes on
 * `credmesh.identity.*.*` but never a replicator's observation kind (its own policies act on
 * those), nor does anyone but the replicators.
 */
function deniedOf(role: BusRole): { publish: string[] } | undefined {
  if (role.kind === "identity-watcher") return { publish: OBSERVATION_KINDS.map((kind) => `${PREFIX}.identity.*.${kind}`) };
  return undefined;
}

/** The role's permissions as nats-server takes them (allow lists de-duplicated, in grant order). */
export function permissionsOf(role: BusRole, deployment: BusDeployment): Permissions {
  if (role.kind === "admin") return { publish: undefined, subscribe: undefined, allowResponses: false };
  const grants = grantsOf(role, deployment);
  const publish = [...new Set(grants.flatMap((grant) => grant.publish ?? []))];
  const subscribe = [...new Set(grants.flatMap((grant) => grant.subscribe ?? []))];
  const denied = deniedOf(role);
  return {
    // An empty allow list would mean "no restriction" to nats-server: deny everything instead.
    publish: publish.length === 0 ? { deny: [">"] } : { allow: publish, ...(denied ? { deny: denied.publish } : {}) },
    subscribe: subscribe.length === 0 ? { deny: [">"] } : { allow: subscribe },
    allowResponses: role.kind === "replicator" || role.kind === "identity-watcher",
  };
}
