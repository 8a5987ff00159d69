import { describe, expect, it } from "vitest";
import type { LifecycleData } from "@credmesh/events";
import { normalizeEventGrid } from "./normalize.ts";
import { REJECT_STATUS, type RejectReason } from "./outcomes.ts";
import { AZURE_RULE_ID, TEST_RULES, fixtureFiles, loadAzureFixture } from "./test-fixtures.ts";

/**
 * The deliberate outcome of every Azure fixture delivered as a body to POST /webhooks/eventgrid.
 * A new azure-* fixture fails the first test until it is given an outcome here: each wire shape
 * credmesh may receive has a decision someone made.
 */

const PAYMENTS = "kv-payments-prod";
const DB = "db-credentials";
const DB_VERSION = "8294df51cc16da220943453e610ec907";

type ExpectedEvent =
  | { outcome: "mutation"; id: string; vault: string; name: string; version: string; eventTime: string }
  | {
      outcome: "lifecycle";
      id: string;
      eventType: string;
      objectType: LifecycleData["objectType"];
      kind: LifecycleData["kind"];
      vault: string;
      name?: string;
      version?: string;
      notBefore?: string;
      expiresAt?: string;
      eventTime: string;
    }
  | { outcome: "out_of_scope"; id: string; vault: string; name: string };

type Expected =
  | { outcome: "events"; events: ExpectedEvent[] }
  | { outcome: "validation"; eventId: string; code: string }
  | { outcome: "rejected"; reason: RejectReason; why: string };

const NEW_DB_VERSION: ExpectedEvent = {
  outcome: "mutation",
  id: "a8a6d836-ee8f-46af-83c4-cb90e3102574",
  vault: PAYMENTS,
  name: DB,
  version: DB_VERSION,
  eventTime: "2025-06-02T14:03:27.1234567Z",
};

const DB_NEAR_EXPIRY: ExpectedEvent = {
  outcome: "lifecycle",
  id: "ccd6c28c-9bf8-424b-81d0-25b65ddb3209",
  eventType: "Microsoft.KeyVault.SecretNearExpiry",
  objectType: "secret",
  kind: "near_expiry",
  vault: PAYMENTS,
  name: DB,
  version: DB_VERSION,
  notBefore: "2025-06-02T14:03:00Z",
  expiresAt: "2026-06-02T14:03:00Z",
  eventTime: "2026-05-03T14:03:09.0000000Z",
};

// VaultAccessPolicyChanged: a vault-level event; its data values are unverified (FORMATS.md C),
// so the object name and version are not taken from them.
const ACCESS_POLICY_CHANGED: ExpectedEvent = {
  outcome: "lifecycle",
  id: "719167c3-4608-4d71-ac40-4f5f1eaa98a3",
  eventType: "Microsoft.KeyVault.VaultAccessPolicyChanged",
  objectType: "vault",
  kind: "access_policy_changed",
  vault: PAYMENTS,
  eventTime: "2025-06-02T15:00:41.9876543Z",
};

const notADelivery = (why: string): Expected => ({ outcome: "rejected", reason: "invalid_event", why });

const OUTCOMES: Record<string, Expected> = {
  "azure-eventgrid-secretnewversioncreated.json": { outcome: "events", events: [NEW_DB_VERSION] },
  "azure-cloudevents-secretnewversioncreated.json": { outcome: "events", events: [NEW_DB_VERSION] },
  "azure-eventgrid-secretnearexpiry.json": { outcome: "events", events: [DB_NEAR_EXPIRY] },
  "azure-eventgrid-secretexpired.json": {
    outcome: "events",
    events: [
      {
        ...DB_NEAR_EXPIRY,
        id: "35ded7dc-0bfb-40ff-963a-8a299cd1cf58",
        eventType: "Microsoft.KeyVault.SecretExpired",
        kind: "expired",
        eventTime: "2026-06-02T14:03:05.0000000Z",
      },
    ],
  },
  "azure-eventgrid-vaultaccesspolicychanged.json": { outcome: "events", events: [ACCESS_POLICY_CHANGED] },
  "azure-eventgrid-batch-mixed.json": {
    outcome: "events",
    events: [
      NEW_DB_VERSION,
      // kv-identity-prod is in no Azure → AWS rule: counted and skipped, the batch still succeeds.
      { outcome: "out_of_scope", id: "7129bed4-a28a-4b86-82c5-add923a91241", vault: "kv-identity-prod", name: "oidc-client-secret" },
      {
        outcome: "lifecycle",
        id: "353ccd28-9d20-41dd-bce9-fb5a900b59a7",
        eventType: "Microsoft.KeyVault.KeyNewVersionCreated",
        objectType: "key",
        kind: "new_version",
        vault: PAYMENTS,
        name: "payments-signing-key",
        version: "1e9c0c45b445354c9cfb2cfff8bfaf8a",
        notBefore: "2025-06-02T14:03:30Z",
        expiresAt: "2026-06-02T14:03:30Z",
        eventTime: "2025-06-02T14:03:30.4400000Z",
      },
      {
        outcome: "lifecycle",
        id: "4fc2ca8b-a266-4305-aa9f-9df74a5296a5",
        eventType: "Microsoft.KeyVault.CertificateNewVersionCreated",
        objectType: "certificate",
        kind: "new_version",
        vault: PAYMENTS,
        name: "api-tls",
        version: "c7a74e8bee65a0abcce003598937d5ab",
        notBefore: "2025-06-02T14:00:11Z",
        expiresAt: "2026-06-02T14:00:11Z",
        eventTime: "2025-06-02T14:03:31.2000000Z",
      },
      DB_NEAR_EXPIRY,
      ACCESS_POLICY_CHANGED,
    ],
  },
  "azure-eventgrid-subscriptionvalidation.json": {
    outcome: "validation",
    eventId: "f6b30d32-c286-4def-9056-f1482cbda4ed",
    code: "ca436d55-bf34-4985-bbfa-8d3be544a5b8",
  },
  // Not bodies Event Grid delivers; if one ever arrives as a body it must be refused (400).
  "azure-eventgrid-subscriptionvalidation-response.json": notADelivery("our answer to the handshake, not a request"),
  "azure-cloudevents-options-handshake.json": notADelivery("an OPTIONS exchange (abuse-protection.test.ts replays it)"),
  "azure-eventgrid-delivery-headers.json": notADelivery("delivery headers"),
  "azure-entra-webhook-token-claims.json": notADelivery("token claims (auth/entra-token.test.ts checks them)"),
  "azure-keyvault-deletesecret-response.json": notADelivery("a Key Vault REST response"),
  "azure-keyvault-setsecret-response.json": notADelivery("a Key Vault REST response"),
  "azure-keyvault-error-400-tags.json": notADelivery("a Key Vault error body"),
  "azure-keyvault-error-404-secretnotfound.json": notADelivery("a Key Vault error body"),
  "azure-keyvault-error-409-objectisbeingdeleted.json": notADelivery("a Key Vault error body"),
  "azure-keyvault-error-409-objectisdeletedbutrecoverable.json": notADelivery("a Key Vault error body"),
  "azure-keyvault-error-429-throttled.json": notADelivery("a Key Vault error body"),
};

describe("every Azure fixture has a deliberate outcome", () => {
  it("lists each azure-* fixture, and no fixture that is gone", () => {
    expect(fixtureFiles("azure-")).toEqual(Object.keys(OUTCOMES).sort());
  });

  it.each(Object.entries(OUTCOMES))("%s", (file, expected) => {
    const decision = normalizeEventGrid(loadAzureFixture(file), TEST_RULES);

    if (expected.outcome === "rejected") {
      expect(decision).toMatchObject({ kind: "rejected", reason: expected.reason });
      if (decision.kind === "rejected") expect(REJECT_STATUS[decision.reason]).toBe(400);
      return;
    }
    if (expected.outcome === "validation") {
      expect(decision).toStrictEqual({ kind: "validation", eventId: expected.eventId, validationCode: expected.code });
      return;
    }
    if (decision.kind !== "events") throw new Error(`expected events, got ${JSON.stringify(decision)}`);
    expect(decision.events).toHaveLength(expected.events.length);
    decision.events.forEach((actual, index) => {
      const want = expected.events[index] as ExpectedEvent;
      expect(actual.ref).toMatchObject({ index, id: want.id });
      switch (want.outcome) {
        case "mutation":
          if (actual.outcome !== "mutation") throw new Error(`event ${index}: expected a mutation, got ${actual.outcome}`);
          expect(actual.event.id).toBe(want.id);
          expect(actual.event.subject).toBe(`azure/${want.vault}/${want.name}`);
          expect(actual.event.data).toStrictEqual({
            kind: "upsert",
            rule: AZURE_RULE_ID,
            destination: { cloud: "aws" },
            origin: { cloud: "azure", vaultName: want.vault, secretName: want.name, versionId: want.version },
            trigger: {
              source: "azure.eventgrid",
              eventId: want.id,
              eventName: "Microsoft.KeyVault.SecretNewVersionCreated",
              eventTime: want.eventTime,
            },
          });
          break;
        case "lifecycle":
          if (actual.outcome !== "lifecycle") throw new Error(`event ${index}: expected a lifecycle event, got ${actual.outcome}`);
          expect(actual.event.id).toBe(want.id);
          expect(actual.event.data).toStrictEqual({
            kind: want.kind,
            objectType: want.objectType,
            vaultName: want.vault,
            ...(want.name === undefined ? {} : { objectName: want.name }),
            ...(want.version === undefined ? {} : { version: want.version }),
            ...(want.notBefore === undefined ? {} : { notBefore: want.notBefore }),
            ...(want.expiresAt === undefined ? {} : { expiresAt: want.expiresAt }),
            trigger: { source: "azure.eventgrid", eventId: want.id, eventName: want.eventType, eventTime: want.eventTime },
          });
          break;
        case "out_of_scope":
          expect(actual).toMatchObject({ outcome: "out_of_scope", reason: "no_matching_rule", secret: { vaultName: want.vault, name: want.name } });
          break;
      }
    });
  });
});
