import { randomUUID } from "node:crypto";
import { readFixture } from "./fixtures.ts";

type Json = Record<string, unknown>;

/**
 * A real Event Grid delivery (Event Grid schema: an array) announcing a new version of a Key
 * Vault secret, built from the wire-format fixture with the identifiers of a secret that
 * actually exists in the Key Vault emulator.
 */
export function secretNewVersionCreated(vaultName: string, secretName: string, version: string, id: string = randomUUID()): Json[] {
  const [template] = readFixture<Json[]>("azure-eventgrid-secretnewversioncreated.json");
  const event = structuredClone(template) as Json;
  event.id = id;
  event.topic = String(event.topic).replace(/vaults\/[^/]+$/, `vaults/${vaultName}`);
  event.subject = secretName;
  event.eventTime = new Date().toISOString();
  event.data = {
    Id: `https://${vaultName}.vault.azure.net/secrets/${secretName}/${version}`,
    VaultName: vaultName,
    ObjectType: "Secret",
    ObjectName: secretName,
    Version: version,
    NBF: null,
    EXP: null,
  };
  return [event];
}

/** Posts an Event Grid delivery (Event Grid schema) to ingest with a shared key, and insists on 200. */
export async function postEventGrid(ingestUrl: string, sharedKey: string, events: readonly Json[]): Promise<void> {
  const response = await fetch(`${ingestUrl}/webhooks/eventgrid`, {
    method: "POST",
    headers: { "content-type": "application/json", "aeg-event-type": "Notification", authorization: sharedKey },
    body: JSON.stringify(events),
  });
  await response.body?.cancel();
  if (response.status !== 200) throw new Error(`ingest answered ${response.status} to an Event Grid delivery`);
}

/**
 * Key Vault's `CertificateNewVersionCreated` in the Event Grid schema: the same data shape as the
 * secret events (Key Vault's event schema is one for secrets, keys and certificates), with the
 * certificate's validity dates in NBF/EXP (Unix seconds).
 */
export function certificateNewVersionCreated(vaultName: string, name: string, version: string, validity: { notBefore: Date; notAfter: Date }): Json[] {
  const [event] = secretNewVersionCreated(vaultName, name, version);
  if (!event) throw new Error("the fixture holds no event");
  event.eventType = "Microsoft.KeyVault.CertificateNewVersionCreated";
  event.data = {
    Id: `https://${vaultName}.vault.azure.net/certificates/${name}/${version}`,
    VaultName: vaultName,
    ObjectType: "Certificate",
    ObjectName: name,
    Version: version,
    NBF: Math.floor(validity.notBefore.getTime() / 1000),
    EXP: Math.floor(validity.notAfter.getTime() / 1000),
  };
  return [event];
}
