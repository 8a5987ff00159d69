import { setTimeout as sleep } from "node:timers/promises";
import { AuditWatch, DIRECTIONS, announce, changeSource, createSource, poolNames, type Direction } from "../mesh/mutations.ts";
import { startProxiedMesh } from "../quota/proxied-mesh.ts";
import type { QuotaProxy } from "../quota/quota-proxy.ts";
import type { RunContext, Section } from "../section.ts";
import type { SettingsOf } from "../settings.ts";

const settings = {
  rounds: { kind: "int", default: 3, quick: 1, min: 1, max: 50, env: "BENCH_CALLS_ROUNDS", help: "secrets per direction, each created, announced twice and updated" },
} as const;

/** Issue 13 item 3's bounds. */
const MAX_APPLIED = 3;
const MAX_DUPLICATE = 2;

export interface CountedMutation {
  kind: "create" | "repeat" | "update";
  decision: string;
  /** Cloud calls per operation, as the proxies in front of moto and the Key Vault emulator saw them (STS and token calls excluded). */
  calls: { aws: Record<string, number>; azure: Record<string, number> };
  total: number;
}

export interface CallsResult {
  directions: Array<{ direction: Direction; mutations: CountedMutation[]; maxApplied: number; maxDuplicate: number }>;
  bounds: { applied: number; duplicate: number };
}

/**
 * Cloud calls per mutation, counted outside the code (issue 13 item 3): proxies in front of moto and
 * the Key Vault emulator record every call the replicators make. Per direction and round: a new
 * secret (applied), the same announcement again (skipped duplicate) and a new version (applied),
 * one at a time with nothing else running; a warm-up mutation first keeps credentials and Key
 * Vault's authentication challenge out of the count. Fails above 3 calls per applied mutation or
 * 2 per skipped duplicate.
 */
export const callsSection: Section<typeof settings, CallsResult> = {
  name: "calls",
  title: "Cloud calls per mutation (counted by proxies in front of the emulators)",
  settings,
  budgetSeconds: (values) => 300 + values.rounds * 60,
  run: runCalls,
  ok: (result) => result.directions.every((row) => row.maxApplied <= MAX_APPLIED && row.maxDuplicate <= MAX_DUPLICATE),
  report: (result) => [
    `Bounds: ≤ ${result.bounds.applied} calls per applied mutation, ≤ ${result.bounds.duplicate} per skipped duplicate.`,
    "",
    "| direction | mutation | decision | calls | which |",
    "|---|---|---|---:|---|",
    ...result.directions.flatMap(({ direction, mutations }) =>
      mutations.map((m) => {
        const which = [...Object.entries(m.calls.aws).map(([op, n]) => `SM ${op}${n > 1 ? ` ×${n}` : ""}`), ...Object.entries(m.calls.azure).map(([op, n]) => `KV ${op}${n > 1 ? ` ×${n}` : ""}`)].join(", ");
        const bound = m.decision === "applied" ? MAX_APPLIED : MAX_DUPLICATE;
        return `| ${direction === "aws-to-azure" ? "AWS → Azure" : "Azure → AWS"} | ${m.kind} | ${m.decision} | ${m.total > bound ? `**${m.total}** (over ${bound})` : m.total} | ${which} |`;
      }),
    ),
  ],
};

async function runCalls(values: SettingsOf<typeof settings>, context: RunContext): Promise<CallsResult> {
  const counting = { counted: new Set<string>(), limit: Number.POSITIVE_INFINITY, windowMs: 1_000 };
  context.progress("calls: starting the mesh with counting proxies in front of moto and the Key Vault emulator");
  const { mesh, proxies } = await startProxiedMesh(context, { aws: counting, azure: counting });
  const watch = new AuditWatch(mesh);
  context.defer(async () => watch.stop());
  const directions: CallsResult["directions"] = [];
  for (const direction of DIRECTIONS) {
    const names = poolNames(direction, "calls", values.rounds + 1);
    const counted: CountedMutation[] = [];
    const one = async (kind: CountedMutation["kind"], secret: Awaited<ReturnType<typeof createSource>>): Promise<CountedMutation> => {
      const from = { aws: proxies.aws?.events.length ?? 0, azure: proxies.azure?.events.length ?? 0 };
      if (kind === "update") await changeSource(mesh, direction, secret);
      const eventId = await announce(mesh, direction, secret, kind === "create");
      const audited = await watch.wait(eventId, AbortSignal.any([context.signal, AbortSignal.timeout(60_000)]));
      // The audit record follows the last call; a moment more lets stragglers (none expected) show.
      await sleep(200);
      const calls = { aws: tally(proxies.aws, from.aws), azure: tally(proxies.azure, from.azure) };
      const total = [...Object.values(calls.aws), ...Object.values(calls.azure)].reduce((sum, n) => sum + n, 0);
      return { kind, decision: audited?.decision ?? "none", calls, total };
    };
    context.progress(`calls ${direction}: warm-up, then ${values.rounds} rounds of create, repeat, update`);
    await one("create", await createSource(mesh, direction, names[0] ?? ""));
    for (const name of names.slice(1)) {
      const secret = await createSource(mesh, direction, name);
      counted.push(await one("create", secret), await one("repeat", secret), await one("update", secret));
    }
    const max = (applied: boolean): number => Math.max(0, ...counted.filter((m) => (m.decision === "applied") === applied).map((m) => m.total));
    directions.push({ direction, mutations: counted, maxApplied: max(true), maxDuplicate: max(false) });
  }
  return { directions, bounds: { applied: MAX_APPLIED, duplicate: MAX_DUPLICATE } };
}

/** Calls since `from`, by operation; STS (Query protocol, no operation) and token endpoints are not vault calls. */
function tally(proxy: QuotaProxy | undefined, from: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of proxy?.events.slice(from) ?? []) {
    if (event.operation === "" || event.operation.startsWith("POST /") || event.operation.startsWith("GET /")) continue;
    counts[event.operation] = (counts[event.operation] ?? 0) + 1;
  }
  return counts;
}
