import { randomBytes } from "node:crypto";
import { CreateSecretCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { BusTap } from "../../../test/support/bus-tap.ts";
import { cloudCallWindow, type CloudCalls } from "../../../test/support/cloud-calls.ts";
import { cloudTrailEvent } from "../../../test/support/eventbridge.ts";
import { postEventGrid, secretNewVersionCreated } from "../../../test/support/eventgrid.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh, type Mesh } from "../../../test/support/mesh.ts";
import { postEventBridge } from "../../../test/support/replication-workload.ts";
import type { Direction } from "../mesh/mutations.ts";
import type { RunContext, Section } from "../section.ts";
import type { SettingsOf } from "../settings.ts";

const settings = {
  rounds: { kind: "int", default: 3, quick: 1, min: 1, max: 50, env: "BENCH_CALLS_ROUNDS", help: "secrets per direction, each created, announced again and updated" },
} as const;

/** Issue 13 item 3's bounds. */
const MAX_APPLIED = 3;
const MAX_DUPLICATE = 2;

export interface CountedMutation {
  kind: "create" | "repeat" | "update";
  decision: string;
  /** Vault calls per operation: Secrets Manager as the recording proxy in front of moto saw them, Key Vault by the emulator's request counts. */
  calls: CloudCalls;
  total: number;
}

export interface CallsResult {
  directions: Array<{ direction: Direction; mutations: CountedMutation[]; maxApplied: number; maxDuplicate: number }>;
  bounds: { applied: number; duplicate: number };
}

/**
 * Cloud calls per mutation, counted outside the code (issue 13 item 3), with the counting of the
 * cloud-calls e2e test (test/support/cloud-calls.ts): Secrets Manager calls at the recording proxy
 * in front of moto, Key Vault calls in the emulator's own request counts (STS and token endpoints
 * excluded). Per direction and round: a new secret (applied), the same announcement again (skipped
 * duplicate) and a new version (applied), one at a time with nothing else running, after a warm-up
 * mutation that keeps credentials and Key Vault's authentication challenge out of the count.
 * Fails above 3 calls per applied mutation or 2 per skipped duplicate.
 */
export const callsSection: Section<typeof settings, CallsResult> = {
  name: "calls",
  title: "Cloud calls per mutation (counted at the recording proxy and by the Key Vault emulator)",
  settings,
  budgetSeconds: (values) => 600 + values.rounds * 60,
  run: runCalls,
  ok: (result) => result.directions.every((row) => row.maxApplied <= MAX_APPLIED && row.maxDuplicate <= MAX_DUPLICATE),
  report: (result) => [
    `Bounds: ≤ ${result.bounds.applied} calls per applied mutation, ≤ ${result.bounds.duplicate} per skipped duplicate.`,
    "",
    "| direction | mutation | decision | calls | which |",
    "|---|---|---|---:|---|",
    ...result.directions.flatMap(({ direction, mutations }) =>
      mutations.map((m) => {
        const which = [
          ...Object.entries(m.calls.aws).map(([op, n]) => `SM ${op}${n > 1 ? ` ×${n}` : ""}`),
          ...Object.entries(m.calls.azure).map(([op, n]) => `KV ${op}${n > 1 ? ` ×${n}` : ""}`),
        ].join(", ");
        const bound = m.decision === "applied" ? MAX_APPLIED : MAX_DUPLICATE;
        return `| ${direction === "aws-to-azure" ? "AWS → Azure" : "Azure → AWS"} | ${m.kind} | ${m.decision} | ${m.total > bound ? `**${m.total}** (over ${bound})` : m.total} | ${which} |`;
      }),
    ),
  ],
};

const VAULT = "credmesh-calls";
/** Nothing but the mutations: no periodic reconcile in the count. */
const QUIET = { CREDMESH_RECONCILE_INTERVAL_SECONDS: "0" };

async function runCalls(values: SettingsOf<typeof settings>, context: RunContext): Promise<CallsResult> {
  process.env.CREDMESH_TEST_RUNTIME = "processes";
  return {
    directions: [await awsToAzure(values.rounds, context), await azureToAws(values.rounds, context)],
    bounds: { applied: MAX_APPLIED, duplicate: MAX_DUPLICATE },
  };
}

/**
 * Counts one mutation's calls: `change` writes the source (the bench's own call, before the window
 * opens: the emulator counts every client's requests), `deliver` posts its event and returns the id.
 */
async function counted(mesh: Mesh, tap: BusTap, kind: CountedMutation["kind"], change: () => Promise<void>, deliver: () => Promise<string>): Promise<CountedMutation> {
  await change();
  const window = cloudCallWindow(mesh);
  const eventId = await deliver();
  const audit = await tap.auditFor(eventId, 60_000);
  return { kind, decision: audit.decision, calls: window.calls(), total: window.totals().all };
}

function summary(direction: Direction, mutations: CountedMutation[]): CallsResult["directions"][number] {
  const max = (applied: boolean): number => Math.max(0, ...mutations.filter((m) => (m.decision === "applied") === applied).map((m) => m.total));
  return { direction, mutations, maxApplied: max(true), maxDuplicate: max(false) };
}

async function awsToAzure(rounds: number, context: RunContext): Promise<CallsResult["directions"][number]> {
  context.progress("calls aws-to-azure: starting the test mesh (recording proxy in front of moto, Key Vault emulator in process)");
  const mesh = await startMesh({ namePrefixes: ["calls/"], replicatorEnv: QUIET });
  context.defer(() => mesh.stop());
  const tap = new BusTap(mesh.bus, "credmesh.audit.>");
  context.defer(async () => tap.stop());
  const value = (): string => `v-${randomBytes(8).toString("hex")}`;
  const mutation = (name: string, kind: CountedMutation["kind"], arn: string): Promise<CountedMutation & { arn: string }> => {
    let secretArn = arn;
    let versionId = "";
    const change = async (): Promise<void> => {
      if (kind === "create") {
        const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value() }));
        secretArn = created.ARN ?? "";
        versionId = created.VersionId ?? "";
      } else if (kind === "update") {
        versionId = (await mesh.secretsManager.send(new PutSecretValueCommand({ SecretId: arn, SecretString: value() }))).VersionId ?? "";
      }
    };
    return counted(mesh, tap, kind, change, async () => {
      const fixture = kind === "create" ? "aws-cloudtrail-createsecret.json" : "aws-cloudtrail-putsecretvalue.json";
      const event = cloudTrailEvent(fixture, { arn: secretArn, name, account: AWS_ACCOUNT, region: AWS_REGION }, versionId ? { versionId } : {});
      await postEventBridge(mesh, event);
      return String(event.id);
    }).then((result) => ({ ...result, arn: secretArn }));
  };
  await mutation(`calls/warm-${randomBytes(3).toString("hex")}`, "create", "");
  const mutations: CountedMutation[] = [];
  for (let round = 0; round < rounds; round++) {
    const name = `calls/s${round}-${randomBytes(3).toString("hex")}`;
    const created = await mutation(name, "create", "");
    mutations.push(created, await mutation(name, "repeat", created.arn), await mutation(name, "update", created.arn));
  }
  return summary("aws-to-azure", mutations);
}

async function azureToAws(rounds: number, context: RunContext): Promise<CallsResult["directions"][number]> {
  context.progress("calls azure-to-aws: starting the test mesh (recording proxy in front of moto, Key Vault emulator in process)");
  const eventGridKey = randomBytes(24).toString("base64url");
  const mesh = await startMesh({
    awsToAzure: false,
    azureToAws: { vaultName: VAULT, namePrefixes: ["calls-"] },
    ingestEnv: { CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS: eventGridKey },
    replicatorEnv: QUIET,
  });
  context.defer(() => mesh.stop());
  const tap = new BusTap(mesh.bus, "credmesh.audit.>");
  context.defer(async () => tap.stop());
  const mutation = (name: string, kind: CountedMutation["kind"], version = ""): Promise<CountedMutation & { version: string }> => {
    let written = version;
    const change = async (): Promise<void> => {
      if (kind !== "repeat") written = (await mesh.keyVaultClient.setSecret(name, `v-${randomBytes(8).toString("hex")}`)).properties.version ?? "";
    };
    return counted(mesh, tap, kind, change, async () => {
      const events = secretNewVersionCreated(VAULT, name, written);
      await postEventGrid(mesh.ingestUrl, eventGridKey, events);
      return String(events[0]?.id);
    }).then((result) => ({ ...result, version: written }));
  };
  await mutation(`calls-warm-${randomBytes(3).toString("hex")}`, "create");
  const mutations: CountedMutation[] = [];
  for (let round = 0; round < rounds; round++) {
    const name = `calls-s${round}-${randomBytes(3).toString("hex")}`;
    const created = await mutation(name, "create");
    mutations.push(created, await mutation(name, "repeat", created.version), await mutation(name, "update"));
  }
  return summary("azure-to-aws", mutations);
}
