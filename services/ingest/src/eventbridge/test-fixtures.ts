import { readFileSync, readdirSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseRules, type RuleSet } from "@credmesh/config";
import type { AwsOrigin, MutationEvent } from "@credmesh/events";

/**
 * Test support: the shared wire-format fixtures and a small rule set. The fixtures live beside the
 * repository (`<repo>/../shared/fixtures`); CREDMESH_FIXTURES_DIR points elsewhere.
 */

const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

const FIXTURES_DIR = process.env["CREDMESH_FIXTURES_DIR"] ?? resolve(REPO_ROOT, "../shared/fixtures");

/** File names (with .json) of the fixtures whose names start with the prefix, sorted. */
export function fixtureFiles(prefix: string): string[] {
  return readdirSync(FIXTURES_DIR)
    .filter((file) => file.startsWith(prefix) && file.endsWith(".json"))
    .sort();
}

/** A fresh, mutable copy of a fixture on every call. */
export function loadFixture(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(resolve(FIXTURES_DIR, file), "utf8")) as Record<string, unknown>;
}

/** The fixtures' secrets live in 123456789012 / us-east-1 under prod/payments/. */
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
  - id: everything-eu
    source:
      cloud: aws
      accounts: ["123456789012"]
      regions: ["eu-west-1"]
      namePrefixes: [""]
    destination:
      cloud: azure
      vaultUrl: https://eu-dr.vault.azure.net
`,
  "test rules",
);

export const FIXED_NOW = new Date("2025-06-02T15:00:00.000Z");

export const fixedClock = (): Date => FIXED_NOW;

/** The origin of an event built from AWS input, narrowed for assertions. */
export function awsOriginOf(event: MutationEvent): AwsOrigin {
  const { origin } = event.data;
  if (origin.cloud !== "aws") throw new Error("expected an AWS origin");
  return origin;
}
