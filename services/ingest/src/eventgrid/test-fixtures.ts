import { parseRules, type RuleSet } from "@credmesh/config";
import type { AzureOrigin, MutationEvent } from "@credmesh/events";
import { fixtureFiles, loadFixture } from "../eventbridge/test-fixtures.ts";
import type { DeliveryDecision, EventOutcome } from "./outcomes.ts";

/**
 * Test support for the Event Grid normalizer: the shared fixtures (arrays as well as objects)
 * and a rule set covering the fixtures' kv-payments-prod secrets, but not kv-identity-prod.
 */

export { fixtureFiles };

/** A fresh, mutable copy of a fixture, whatever its JSON type. */
export function loadAzureFixture<T = unknown>(file: string): T {
  return loadFixture(file) as unknown as T;
}

type Json = Record<string, unknown>;

/** The first (or only) event of an Event Grid schema fixture, fresh. */
export function firstEvent(file: string): Json & { data: Json } {
  const body = loadAzureFixture<(Json & { data: Json })[]>(file);
  const [event] = body;
  if (!event) throw new Error(`${file} has no event`);
  return event;
}

export const AZURE_RULE_ID = "payments-from-azure";

export const TEST_RULES: RuleSet = parseRules(
  `
rules:
  - id: payments-to-azure
    source:
      cloud: aws
      accounts: ["123456789012"]
      regions: ["us-east-1"]
      namePrefixes: ["prod/payments/"]
    destination:
      cloud: azure
      vaultUrl: https://payments-dr.vault.azure.net
  - id: ${AZURE_RULE_ID}
    source:
      cloud: azure
      vaults: ["kv-payments-prod"]
      namePrefixes: ["db-", "api-"]
    destination:
      cloud: aws
      account: "123456789012"
      region: "us-east-1"
      nameTemplate: "azure/{vault}/{name}"
`,
  "test rules",
);

export function eventsOf(decision: DeliveryDecision): readonly EventOutcome[] {
  if (decision.kind !== "events") throw new Error(`expected events, got ${JSON.stringify(decision)}`);
  return decision.events;
}

export function onlyEvent(decision: DeliveryDecision): EventOutcome {
  const events = eventsOf(decision);
  if (events.length !== 1 || !events[0]) throw new Error(`expected one event, got ${events.length}`);
  return events[0];
}

export function azureOriginOf(event: MutationEvent): AzureOrigin {
  const { origin } = event.data;
  if (origin.cloud !== "azure") throw new Error("expected an Azure origin");
  return origin;
}
