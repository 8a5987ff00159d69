import { ListSecretVersionIdsCommand, type SecretVersionsListEntry } from "@aws-sdk/client-secrets-manager";
import { STREAMS } from "@credmesh/bus-names";
import { decodeAuditRecord, type AuditRecord } from "@credmesh/events";
import { jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeStamp } from "../../../services/replicator/src/converge/stamp.ts";
import type { Mesh } from "../mesh.ts";
import { replicaVersions } from "../replication-workload.ts";
import type { ChaosSecret } from "./workload.ts";

/**
 * Reads a whole stream from its first message with an ordered consumer (what `nats stream view`
 * does), so the test sees what the cluster stored — not what a live subscription happened to
 * receive while its node was being killed.
 */
export async function readStream(nc: NatsConnection, stream: string, each: (msg: JsMsg) => void, timeoutMs = 60_000): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const last = (await jsm.streams.info(stream)).state.last_seq;
  if (last === 0) return 0;
  const consumer = await jetstream(nc).consumers.get(stream);
  const messages = await consumer.consume({ max_messages: 512 });
  const deadline = setTimeout(() => void messages.close(), timeoutMs);
  let count = 0;
  try {
    for await (const msg of messages) {
      each(msg);
      count++;
      if (msg.seq >= last) break;
    }
  } finally {
    clearTimeout(deadline);
    await messages.close();
  }
  return count;
}

/** The message ids (`Nats-Msg-Id`) of every message in the mutation stream. */
export async function mutationIds(nc: NatsConnection): Promise<Set<string>> {
  const ids = new Set<string>();
  await readStream(nc, STREAMS.mutations.name, (msg) => {
    const id = msg.headers?.get("Nats-Msg-Id");
    if (id) ids.add(id);
  });
  return ids;
}

/** Every replicator decision record in the audit stream (quarantine records excluded). */
export async function auditTrail(nc: NatsConnection): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  await readStream(nc, STREAMS.audit.name, (msg) => {
    if (msg.subject.startsWith("credmesh.audit.azure.") || msg.subject.startsWith("credmesh.audit.aws.")) records.push(decodeAuditRecord(msg.data));
  });
  return records;
}

/**
 * The origin version of every version of each secret's replica, oldest first: Key Vault replicas
 * carry it as a version tag, Secrets Manager replicas in their version id (the write stamp). The
 * replica's name comes from the audit trail (the replicator's own mapping).
 */
export async function replicaHistories(mesh: Mesh, secrets: readonly ChaosSecret[], audits: readonly AuditRecord[]): Promise<Map<ChaosSecret, string[]>> {
  const replicaName = new Map<string, string>();
  for (const record of audits) if (record.destination.name !== "") replicaName.set(`${record.origin.cloud}/${record.origin.secretName}`, record.destination.name);
  const histories = new Map<ChaosSecret, string[]>();
  for (const secret of secrets) {
    const name = replicaName.get(`${secret.direction === "aws-to-azure" ? "aws" : "azure"}/${secret.name}`);
    if (name === undefined) {
      histories.set(secret, []);
      continue;
    }
    if (secret.direction === "aws-to-azure") {
      const versions = await replicaVersions(mesh, name);
      histories.set(secret, versions.map((version) => version.originVersion ?? "").filter((origin) => origin !== ""));
    } else {
      const listed: SecretVersionsListEntry[] = [];
      let token: string | undefined;
      do {
        const page = await mesh.secretsManager.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true, MaxResults: 100, ...(token ? { NextToken: token } : {}) }));
        listed.push(...(page.Versions ?? []));
        token = page.NextToken;
      } while (token);
      const versions = listed.sort((a, b) => (a.CreatedDate?.getTime() ?? 0) - (b.CreatedDate?.getTime() ?? 0));
      histories.set(secret, versions.map((version) => decodeStamp(version.VersionId)?.originVersion ?? "").filter((origin) => origin !== ""));
    }
  }
  return histories;
}
