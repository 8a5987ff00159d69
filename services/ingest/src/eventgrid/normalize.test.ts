import { describe, expect, it } from "vitest";
import { normalizeEventGrid } from "./normalize.ts";
import { IGNORE_REASONS, REJECT_REASONS, REJECT_STATUS, type DeliveryDecision, type EventOutcome } from "./outcomes.ts";
import { TEST_RULES, azureOriginOf, eventsOf, firstEvent, loadAzureFixture, onlyEvent } from "./test-fixtures.ts";

type Json = Record<string, unknown>;

const normalize = (body: unknown, deliveryType?: string): DeliveryDecision =>
  normalizeEventGrid(body, TEST_RULES, deliveryType === undefined ? {} : { deliveryType });

/** A fresh SecretNewVersionCreated (Event Grid schema), changed by `edit`. */
function newVersion(edit: (event: Json & { data: Json }) => void = () => {}): Json & { data: Json } {
  const event = firstEvent("azure-eventgrid-secretnewversioncreated.json");
  edit(event);
  return event;
}

function cloudEvent(edit: (event: Json & { data: Json }) => void = () => {}): Json & { data: Json } {
  const event = loadAzureFixture<Json & { data: Json }>("azure-cloudevents-secretnewversioncreated.json");
  edit(event);
  return event;
}

function mutationOf(outcome: EventOutcome) {
  if (outcome.outcome !== "mutation") throw new Error(`expected a mutation, got ${JSON.stringify(outcome)}`);
  return outcome.event;
}

function lifecycleOf(outcome: EventOutcome) {
  if (outcome.outcome !== "lifecycle") throw new Error(`expected a lifecycle event, got ${JSON.stringify(outcome)}`);
  return outcome.event;
}

function rejection(decision: DeliveryDecision) {
  if (decision.kind !== "rejected") throw new Error(`expected a rejection, got ${JSON.stringify(decision)}`);
  return decision;
}

describe("body shape", () => {
  it.each([
    ["null", null],
    ["a string", "Microsoft.KeyVault.SecretNewVersionCreated"],
    ["a number", 42],
    ["an empty array", []],
  ])("refuses %s as malformed", (_, body) => {
    expect(rejection(normalize(body))).toMatchObject({ reason: "malformed_body", total: 0, issues: [expect.stringMatching(/^\(root\): /)] });
  });

  it("refuses a batch element that is not an object, naming its index", () => {
    const decision = rejection(normalize([newVersion(), "event", [newVersion()]]));
    expect(decision).toMatchObject({ reason: "invalid_event", total: 3 });
    expect(decision.issues).toEqual(["[1]: expected an event object", "[2]: expected an event object"]);
  });

  it("refuses an object that is neither schema", () => {
    expect(rejection(normalize({ id: "x", type: "y" })).issues).toEqual([
      "(root): expected an Event Grid event (eventType) or a CloudEvent (specversion)",
    ]);
  });

  it("accepts a single Event Grid event sent as an object, not an array", () => {
    expect(mutationOf(onlyEvent(normalize(newVersion()))).id).toBe("a8a6d836-ee8f-46af-83c4-cb90e3102574");
  });
});

describe("CloudEvents 1.0", () => {
  it("reads a single CloudEvent (application/cloudevents+json) like its Event Grid twin", () => {
    const fromCloudEvent = mutationOf(onlyEvent(normalize(cloudEvent())));
    const fromEventGrid = mutationOf(onlyEvent(normalize([newVersion()])));
    expect(fromCloudEvent).toStrictEqual(fromEventGrid);
  });

  it("reads a CloudEvents batch (application/cloudevents-batch+json), in order", () => {
    const second = cloudEvent((event) => {
      event.id = "0b5e1f8c-4d3a-4a57-9c39-7f7d4c9f0e21";
      event.subject = "api-key";
      Object.assign(event.data, {
        Id: "https://kv-payments-prod.vault.azure.net/secrets/api-key/00000000000000000000000000000001",
        ObjectName: "api-key",
        Version: "00000000000000000000000000000001",
      });
    });
    const events = eventsOf(normalize([cloudEvent(), second]));
    expect(events.map((event) => azureOriginOf(mutationOf(event)).secretName)).toEqual(["db-credentials", "api-key"]);
    expect(events.map((event) => event.ref.index)).toEqual([0, 1]);
  });

  it("takes the vault from source when data has no VaultName", () => {
    const event = cloudEvent((e) => delete e.data["VaultName"]);
    expect(azureOriginOf(mutationOf(onlyEvent(normalize(event)))).vaultName).toBe("kv-payments-prod");
  });

  it("refuses another specversion, and binary data", () => {
    expect(rejection(normalize(cloudEvent((e) => (e.specversion = "0.3"))))).toMatchObject({
      reason: "unsupported_specversion",
      issues: ['specversion: only "1.0" is supported'],
    });
    const binary: Json = cloudEvent((e) => (e.data_base64 = "AAAA"));
    delete binary.data;
    expect(rejection(normalize(binary)).issues).toEqual(["data_base64: binary data is not supported; expected JSON data"]);
  });

  it("requires time, which Key Vault always sets", () => {
    expect(rejection(normalize(cloudEvent((e) => delete e.time))).issues).toEqual(["time: required"]);
  });
});

describe("envelope", () => {
  it("names every malformed field with the event's index, without echoing values", () => {
    const bad = newVersion((event) => {
      event.id = "MARKER id with spaces";
      event.eventTime = "yesterday MARKER";
      event.topic = 42;
    });
    const decision = rejection(normalize([newVersion(), bad]));
    expect(decision).toMatchObject({ reason: "invalid_event", total: 2 });
    expect(decision.rejected.map((event) => event.index)).toEqual([1]);
    expect(decision.issues).toEqual(["[1].id: expected an event id (GUID)", "[1].eventTime: expected an ISO-8601 timestamp with a zone", "[1].topic: expected a string"]);
    expect(JSON.stringify(decision)).not.toContain("MARKER");
  });

  it("refuses the whole batch when one event is malformed: nothing of it is published", () => {
    const decision = normalize([newVersion(), newVersion((event) => delete event.eventType)]);
    expect(decision).toMatchObject({ kind: "rejected", reason: "invalid_event", issues: ["[1].eventType: required"], total: 2 });
  });

  it("lists the issues of every refused event; the reason is the first one's", () => {
    const decision = rejection(
      normalize([
        newVersion((e) => {
          delete e.data["ObjectName"];
          delete e.data["Id"];
          e.subject = undefined;
        }),
        newVersion(),
        newVersion((e) => (e.data["EXP"] = "soon")),
      ]),
    );
    expect(decision.reason).toBe("invalid_data");
    expect(decision.rejected.map((event) => event.index)).toEqual([0, 2]);
    expect(decision.issues).toEqual([
      "[0].data.ObjectName: required (the name is not in subject or data.Id either)",
      "[2].data.EXP: expected Unix seconds (a number, a numeric string, or null)",
    ]);
  });
});

describe("Key Vault data", () => {
  const origin = (event: Json) => azureOriginOf(mutationOf(onlyEvent(normalize([event]))));
  const expected = { cloud: "azure", vaultName: "kv-payments-prod", secretName: "db-credentials", versionId: "8294df51cc16da220943453e610ec907" };

  it.each([
    ["camelCase", (key: string) => key.charAt(0).toLowerCase() + key.slice(1)],
    ["lowercase", (key: string) => key.toLowerCase()],
    ["UPPERCASE", (key: string) => key.toUpperCase()],
    ["with stray spaces (as once documented)", (key: string) => (key === "ObjectName" ? "ObjectName " : key === "Version" ? " Version" : key)],
  ])("reads %s keys", (_, rename) => {
    const event = newVersion((e) => {
      e.data = Object.fromEntries(Object.entries(e.data).map(([key, value]) => [rename(key), value]));
      // Only the data decides here: neither the envelope nor the Id may fill a gap.
      delete e.topic;
      e.subject = "";
      e.data[rename("Id")] = "not a url";
    });
    expect(origin(event)).toStrictEqual(expected);
  });

  it("trims values (a leading space in Version was once documented) and lowercases the version", () => {
    const event = newVersion((e) => (e.data["Version"] = " 8294DF51CC16DA220943453E610EC907"));
    expect(origin(event)).toStrictEqual(expected);
  });

  it("refuses a key given twice in different cases", () => {
    const event = newVersion((e) => (e.data["vaultname"] = "kv-other"));
    expect(rejection(normalize([event])).issues).toEqual(["[0].data.VaultName: given more than once (keys are compared case-insensitively)"]);
  });

  it("falls back to the topic, the subject and the Id, in that order", () => {
    const event = newVersion((e) => {
      delete e.data["VaultName"];
      delete e.data["ObjectName"];
      delete e.data["Version"];
    });
    expect(origin(event)).toStrictEqual(expected);
    const idOnly = newVersion((e) => {
      e.data = { Id: e.data["Id"] };
      delete e.topic;
      delete e.subject;
    });
    expect(origin(idOnly)).toStrictEqual(expected);
  });

  it("refuses data that names another vault than the topic", () => {
    const event = newVersion((e) => (e.data["VaultName"] = "kv-elsewhere"));
    expect(rejection(normalize([event])).issues).toEqual(["[0].data.VaultName: does not match the vault in topic"]);
    // Vault names compare case-insensitively, as Key Vault does.
    expect(origin(newVersion((e) => (e.data["VaultName"] = "KV-Payments-Prod"))).vaultName).toBe("KV-Payments-Prod");
  });

  it("refuses data whose ObjectType contradicts the event type", () => {
    const event = newVersion((e) => (e.data["ObjectType"] = "Key"));
    expect(rejection(normalize([event])).issues).toEqual(['[0].data.ObjectType: expected "Secret" for Microsoft.KeyVault.SecretNewVersionCreated']);
    expect(origin(newVersion((e) => (e.data["ObjectType"] = "secret")))).toStrictEqual(expected);
  });

  it.each([
    ["VaultName", "kv_payments", "[0].data.VaultName: expected a Key Vault name (3–24 letters, digits, -)"],
    ["ObjectName", "db/credentials", "[0].data.ObjectName: expected a Key Vault object name (1–127 letters, digits, -)"],
    ["Version", "v2", "[0].data.Version: expected a Key Vault version (32 hex digits)"],
    ["ObjectName", 42, "[0].data.ObjectName: expected a string"],
  ])("refuses a malformed %s", (key, value, issue) => {
    const decision = rejection(normalize([newVersion((e) => (e.data[key] = value))]));
    expect(decision).toMatchObject({ reason: "invalid_data" });
    expect(decision.issues).toEqual([issue]);
  });

  it("refuses data that is not an object", () => {
    expect(rejection(normalize([newVersion((e) => (e.data = "x" as unknown as Json))])).issues).toEqual(["[0].data: expected an object"]);
  });
});

describe("NBF and EXP", () => {
  const nearExpiry = (nbf: unknown, exp: unknown) => {
    const event = firstEvent("azure-eventgrid-secretnearexpiry.json");
    event.data["NBF"] = nbf;
    event.data["EXP"] = exp;
    return normalize([event]);
  };
  const dates = (decision: DeliveryDecision) => {
    const { notBefore, expiresAt } = lifecycleOf(onlyEvent(decision)).data;
    return { notBefore, expiresAt };
  };

  it.each([
    ["numbers", 1748872980, 1780408980, { notBefore: "2025-06-02T14:03:00Z", expiresAt: "2026-06-02T14:03:00Z" }],
    ["numeric strings", "1748872980", " 1780408980 ", { notBefore: "2025-06-02T14:03:00Z", expiresAt: "2026-06-02T14:03:00Z" }],
    ["null", null, null, { notBefore: undefined, expiresAt: undefined }],
    ["absent", undefined, undefined, { notBefore: undefined, expiresAt: undefined }],
    ["fractional seconds (floored)", 1748872980.9, "1780408980.5", { notBefore: "2025-06-02T14:03:00Z", expiresAt: "2026-06-02T14:03:00Z" }],
    ["zero", 0, 0, { notBefore: "1970-01-01T00:00:00Z", expiresAt: "1970-01-01T00:00:00Z" }],
  ])("accepts %s", (_, nbf, exp, want) => {
    expect(dates(nearExpiry(nbf, exp))).toStrictEqual(want);
  });

  it.each([
    ["a word", "soon"],
    ["a negative number", -1],
    ["a boolean", true],
    ["an object", {}],
    ["a date string", "2026-06-02T14:03:00Z"],
    ["a date beyond 9999", 253_402_300_800],
    ["a hex string", "0x10"],
  ])("refuses %s", (_, value) => {
    const decision = rejection(nearExpiry(1748872980, value));
    expect(decision).toMatchObject({ reason: "invalid_data", issues: ["[0].data.EXP: expected Unix seconds (a number, a numeric string, or null)"] });
  });
});

describe("scope and lifecycle", () => {
  it("counts a secret outside every Azure → AWS rule as out of scope, with its identifiers", () => {
    const event = newVersion((e) => {
      e.subject = "other-secret";
      Object.assign(e.data, { ObjectName: "other-secret", Id: "https://kv-payments-prod.vault.azure.net/secrets/other-secret/8294df51cc16da220943453e610ec907" });
    });
    expect(onlyEvent(normalize([event]))).toMatchObject({
      outcome: "out_of_scope",
      reason: "no_matching_rule",
      secret: { vaultName: "kv-payments-prod", name: "other-secret" },
    });
  });

  it("matches rules case-insensitively, as Key Vault compares names", () => {
    const event = newVersion((e) => Object.assign(e.data, { VaultName: "KV-PAYMENTS-PROD", ObjectName: "DB-Credentials" }));
    const mutation = mutationOf(onlyEvent(normalize([event])));
    expect(mutation.data.rule).toBe("payments-from-azure");
    // The subject (ordering and partition key) is case-insensitive too; the origin keeps the spelling.
    expect(mutation.subject).toBe("azure/kv-payments-prod/db-credentials");
    expect(azureOriginOf(mutation)).toMatchObject({ vaultName: "KV-PAYMENTS-PROD", secretName: "DB-Credentials" });
  });

  it("publishes lifecycle events of every vault, covered by a rule or not", () => {
    const event = firstEvent("azure-eventgrid-secretnearexpiry.json");
    event.topic = "/subscriptions/4f6b2d7e-9c1a-4e83-a5d2-1b7c9e0f3a64/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-identity-prod";
    event.data["VaultName"] = "kv-identity-prod";
    expect(lifecycleOf(onlyEvent(normalize([event]))).data).toMatchObject({ vaultName: "kv-identity-prod", kind: "near_expiry" });
  });

  it.each([
    ["KeyNearExpiry", "key", "near_expiry", "keys"],
    ["KeyExpired", "key", "expired", "keys"],
    ["CertificateNearExpiry", "certificate", "near_expiry", "certificates"],
    ["CertificateExpired", "certificate", "expired", "certificates"],
  ])("maps Microsoft.KeyVault.%s to a %s %s lifecycle event", (type, objectType, kind, collection) => {
    const event = firstEvent("azure-eventgrid-secretnearexpiry.json");
    event.eventType = `Microsoft.KeyVault.${type}`;
    Object.assign(event.data, {
      ObjectType: objectType === "key" ? "Key" : "Certificate",
      Id: `https://kv-payments-prod.vault.azure.net/${collection}/db-credentials/8294df51cc16da220943453e610ec907`,
    });
    const lifecycle = lifecycleOf(onlyEvent(normalize([event])));
    expect(lifecycle.data).toMatchObject({ objectType, kind, objectName: "db-credentials", trigger: { eventName: `Microsoft.KeyVault.${type}` } });
    expect(lifecycle.subject).toBe(`azure/kv-payments-prod/${objectType}/db-credentials`);
  });

  it("ignores event types it does not act on, with a reason", () => {
    const storage = newVersion((e) => (e.eventType = "Microsoft.Storage.BlobCreated"));
    const deleted = newVersion((e) => (e.eventType = "Microsoft.EventGrid.SubscriptionDeletedEvent"));
    expect(eventsOf(normalize([storage, deleted]))).toMatchObject([
      { outcome: "ignored", reason: "unsupported_event_type", ref: { index: 0 } },
      { outcome: "ignored", reason: "subscription_deleted", ref: { index: 1 } },
    ]);
  });
});

describe("subscription validation", () => {
  const validation = () => loadAzureFixture<Json[]>("azure-eventgrid-subscriptionvalidation.json");

  it("answers the handshake with the header Event Grid sends, or without it", () => {
    const answer = { kind: "validation", eventId: "f6b30d32-c286-4def-9056-f1482cbda4ed", validationCode: "ca436d55-bf34-4985-bbfa-8d3be544a5b8" };
    expect(normalize(validation(), "SubscriptionValidation")).toStrictEqual(answer);
    expect(normalize(validation())).toStrictEqual(answer);
  });

  it("refuses a notification announced as a validation, and a validation announced as a notification", () => {
    expect(normalize([newVersion()], "SubscriptionValidation")).toMatchObject({ kind: "rejected", reason: "validation_mismatch" });
    expect(normalize(validation(), "Notification")).toMatchObject({ kind: "rejected", reason: "validation_mismatch" });
  });

  it("refuses a validation event that is not alone in its delivery", () => {
    const decision = rejection(normalize([newVersion(), ...validation()], "SubscriptionValidation"));
    expect(decision).toMatchObject({ reason: "validation_mismatch", total: 2, issues: ["[1].eventType: a subscription validation event must be alone in its delivery"] });
  });

  it("refuses a missing or unusual validation code without echoing it", () => {
    const [missing] = validation() as [Json & { data: Json }];
    delete missing.data["validationCode"];
    expect(rejection(normalize([missing])).issues).toEqual(["[0].data.validationCode: required"]);
    const [odd] = validation() as [Json & { data: Json }];
    odd.data["validationCode"] = "<script>MARKER</script>";
    const decision = rejection(normalize([odd]));
    expect(decision).toMatchObject({ reason: "invalid_data", issues: ["[0].data.validationCode: expected a validation code (GUID)"] });
    expect(JSON.stringify(decision)).not.toContain("MARKER");
  });
});

describe("reason tables", () => {
  it("gives every reject reason a status (always 400: Event Grid retries anything else) and every reason a summary", () => {
    expect(Object.keys(REJECT_STATUS).sort()).toEqual(Object.keys(REJECT_REASONS).sort());
    expect(new Set(Object.values(REJECT_STATUS))).toStrictEqual(new Set([400]));
    for (const summary of [...Object.values(REJECT_REASONS), ...Object.values(IGNORE_REASONS)]) {
      expect(summary).toMatch(/^\S.{10,160}$/);
    }
  });
});
