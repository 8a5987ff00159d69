import type { HelpTopic } from "./args.ts";

const CONNECTION = `Connection (every command):
  --server URL[,URL]   NATS servers, tls:// (default: $CREDMESH_NATS_URL, else tls://127.0.0.1:4222;
                       nats:// only with CREDMESH_NATS_PLAINTEXT=true, for local development)
  --ca FILE            CA of the bus's TLS certificate (default: $CREDMESH_NATS_CA_FILE)
  --nkey FILE          the operator's nkey seed file (default: $CREDMESH_NATS_NKEY_SEED_FILE)
  --creds FILE         a NATS credentials file instead (default: $CREDMESH_NATS_CREDS_FILE)
  --timeout SECONDS    wait for the bus at most this long (reconcile: 120, others: 10)
  --json               machine-readable output on stdout
Exit status: 0 ok, 1 failure, 2 usage or configuration error.`;

const TEXT: Record<HelpTopic, string> = {
  "": `credmesh — operator commands for a running mesh

Usage: credmesh <command> [flags]

Commands:
  up                      run the whole mesh locally with emulated clouds, both directions, Prometheus
  dlq list                show the dead letters (CREDMESH_DLQ) without consuming them
  dlq replay              republish dead-lettered mutations once their cause is fixed
  reconcile               ask the replicators to compare sources and destinations now
  status                  consumer backlog, stream sizes, last audit record per rule, quarantined cells
  quarantine <cell>       stop a cell now: replicators stop using its identity, its clouds revoke it
  release <cell>          end a cell's quarantine (never automatic; audited)
  bus-credentials         make the bus identities of a deployment: nkey seeds and the server's authorization
  provision               apply this release's stream configuration (bus admin identity)

Run "credmesh <command> --help" for its flags.

${CONNECTION}`,
  up: `credmesh up [--once] [--any-ports] [--state-dir DIR] [--cluster]

Runs the local mesh as processes on 127.0.0.1: NATS JetStream, moto (AWS), the Key Vault emulator
(Azure), ingest, both replicators, the identity-watcher and Prometheus scraping them all — the
topology docker-compose.yml runs in containers, on the same ports. Anti-entropy every 10 s is the
change feed: a secret created or changed with any AWS SDK/CLI against moto, or any Azure SDK against
the emulator, reaches the other side without a hand-written event. Prints where everything runs and
the audit tap command, then every replication as it happens. Ctrl-C stops everything. A second up
while one runs says so (lock file <state dir>/up.lock with the pid).

  --once               start everything, wait until every part is ready, print the screen, stop
  --any-ports          free ports instead of the fixed ones (4222, 5000, 8443, 8080, 9090-9093, …)
  --state-dir DIR      the lock, data and logs (default: $CREDMESH_UP_DIR, else ~/.cache/credmesh/up)
  --cluster            the bus as production runs it: a 3-node JetStream cluster (nats-n1..n3),
                       streams and buckets R3, sync_interval always; kill -9 or kill -STOP a node
                       (pids on the screen) and watch the mesh carry on

Needs the provisioned parts (scripts/provision.sh; scripts/credmesh up runs it).`,
  dlq: `credmesh dlq list   [--destination azure|aws] [--limit N]
credmesh dlq replay (--seq N ... | --all) [--destination azure|aws] [--dry-run] [--limit N]

Dead letters are mutations a replicator gave up on (a permanent error, or a retryable one out of
deliveries). Records carry identifiers and a sanitized reason, never a secret value.`,
  "dlq list": `credmesh dlq list [--destination azure|aws] [--limit N]

Lists dead letters oldest first (default: the first 100) without consuming or deleting them:
sequence, time, destination, rule, secret (origin identifiers), reason, deliveries, correlation id.

  --destination CLOUD  only dead letters of this destination's replicator
  --limit N            show at most N records (default 100)

${CONNECTION}`,
  "dlq replay": `credmesh dlq replay (--seq N ... | --all) [--destination azure|aws] [--dry-run] [--limit N]

Republishes each record's mutation event to its mutation subject (same partition as the original,
new event id "replay:<seq>:<digest>", same correlation id, trigger source "replay"), waits for the
JetStream acknowledgement, then deletes the record from CREDMESH_DLQ. Re-running a replay that was
interrupted republishes the same event id, which JetStream deduplicates. A record without a valid
mutation event is reported and left in place.

  --seq N              dead-letter sequence to replay (repeatable, or comma-separated)
  --all                every dead letter (oldest first)
  --destination CLOUD  only dead letters of this destination
  --dry-run            show what would be replayed, change nothing
  --limit N            replay at most N records (with --all)

${CONNECTION}`,
  reconcile: `credmesh reconcile [--destination azure|aws] [--dry-run]

Asks the replicators of a destination (default: every destination) to list the sources in scope,
compare them with the destination and publish corrective mutations (request on
credmesh.control.reconcile.<destination>). Prints the report: actions, counts, errors.

  --destination CLOUD  only this destination (fails if no replicator answers)
  --dry-run            report what would be corrected, publish nothing

${CONNECTION}`,
  quarantine: `credmesh quarantine <cell> --reason TEXT [--by NAME]

The kill switch of a cell. Asks the identity-watcher (credmesh.control.quarantine.<cell>) to mark the
cell quarantined in the JetStream KV bucket credmesh-quarantine: within a second every replicator of
that cell stops using its identity (in-flight work is abandoned unacknowledged and redone after the
release). Then the cloud layers: the cell's IAM role is tagged CellStatus=Quarantined and denied the
sessions issued before now; its Entra service principal is disabled. Prints what each layer did.
Quarantining a quarantined cell changes nothing and says so.

  --reason TEXT        why (required; audited on credmesh.audit.quarantine.<cell>)
  --by NAME            who asks (default: $CREDMESH_OPERATOR, else user@host)

${CONNECTION}`,
  release: `credmesh release <cell> --reason TEXT [--by NAME]

Ends a cell's quarantine (credmesh.control.release.<cell>): the replicators resume with fresh
credentials and redo what they had abandoned; the IAM role is tagged CellStatus=Active (sessions
issued before the quarantine stay revoked) and the service principal is enabled again. Never
automatic. Releasing a cell that is not quarantined changes nothing and says so.

  --reason TEXT        why (required; audited)
  --by NAME            who asks (default: $CREDMESH_OPERATOR, else user@host)

${CONNECTION}`,
  status: `credmesh status [--audit-window N]

Per destination: the replicator consumers' pending and ack-pending counts and the dead letters
waiting; the credmesh streams' sizes; the last audit record per rule; every cell's quarantine
state (credmesh-quarantine bucket).

  --audit-window N     read the last N audit records for the per-rule summary (default 10000)

${CONNECTION}`,
  "bus-credentials": `credmesh bus-credentials --out DIR [--replicator DESTINATION:CELL ...] [--partitions N]

Makes one NATS identity (an nkey) per bus role of this deployment — ingest, each replicator cell,
identity-watcher, operator, auditor, admin — from the role description in @credmesh/bus-roles.
Writes, in DIR (created 0700):
  <role>.nk                        the role's nkey seed (0600): the secret its process authenticates
                                   with (CREDMESH_NATS_NKEY_SEED_FILE, the CLI's --nkey)
  authorization.conf               nats-server include: each role's public key and permissions
  nats-values.authorization.yaml   the same users as values for the nats Helm chart
Existing seeds are kept, so adding a cell changes no other key. Needs no bus. Never commit DIR.

  --out DIR                     where to write (required)
  --replicator DEST:CELL        a replicator cell, e.g. azure:prod-azure-1 (repeatable)
  --partitions N                partitions per destination (default: $CREDMESH_PARTITIONS, else 16)
  --json                        machine-readable output`,
  provision: `credmesh provision [--dry-run]

Makes the credmesh streams match this release's configuration (subjects, replicas from
$CREDMESH_STREAM_REPLICAS, duplicate window from $CREDMESH_DUPLICATE_WINDOW_MS, retention). The
services create a missing stream but never change one (their bus roles may not), so run this after
an upgrade or a settings change, with the bus admin identity (--nkey admin.nk).

  --dry-run            list missing and differing streams, change nothing

${CONNECTION}`,
};

export function helpText(topic: HelpTopic): string {
  return TEXT[topic];
}
