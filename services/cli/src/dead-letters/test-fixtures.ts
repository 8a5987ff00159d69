import { buildMutationEvent, type MutationEvent } from "@credmesh/events";
import type { StoredRecord } from "./record.ts";

/** A mutation event as ingest builds it for an AWS secret. */
export function awsMutation(overrides: { name?: string; id?: string } = {}): MutationEvent {
  const name = overrides.name ?? "prod/payments/db-password";
  return buildMutationEvent({
    id: overrides.id ?? "c232624c-a4da-4662-b9a6-0bb0fae0893e",
    data: {
      kind: "upsert",
      rule: "payments-to-azure",
      destination: { cloud: "azure" },
      origin: {
        cloud: "aws",
        account: "123456789012",
        region: "us-east-1",
        secretId: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-Xa9TqZ`,
        secretName: name,
        versionId: "b4443c99-dd1a-47c8-8de1-5f3a3e4de962",
      },
      trigger: {
        source: "aws.eventbridge",
        eventId: overrides.id ?? "c232624c-a4da-4662-b9a6-0bb0fae0893e",
        eventName: "CreateSecret",
        eventTime: "2025-06-02T14:03:11Z",
        actor: { type: "AssumedRole", arn: "arn:aws:sts::123456789012:assumed-role/SecretsAdmin/alice" },
      },
    },
  });
}

/** A dead-letter record as the replicator publishes it, stored at `seq` in CREDMESH_DLQ. */
export function storedDeadLetter(seq: number, record: Record<string, unknown>, subject = "credmesh.dlq.azure"): StoredRecord {
  return { seq, subject, time: new Date("2025-06-02T14:05:00Z"), data: new TextEncoder().encode(JSON.stringify(record)) };
}

export function deadLetterRecord(event: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    at: "2025-06-02T14:04:59.123Z",
    cell: "azure-1",
    deliveries: 1,
    stream: "CREDMESH_MUTATIONS",
    streamSequence: 42,
    subject: "credmesh.mutation.azure.p07",
    error: { reason: "unmanaged_destination", retryable: false, message: "Key Vault secret prod-x exists and is not managed by credmesh" },
    event,
    ...extra,
  };
}
