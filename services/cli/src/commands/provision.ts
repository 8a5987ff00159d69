import { DEFAULT_STREAM_SETTINGS, ensureStreams } from "@credmesh/bus";
import { json, table } from "../output.ts";
import type { CommandContext, ExitCode } from "./context.ts";

export interface ProvisionOptions {
  dryRun: boolean;
  streamReplicas: number;
  duplicateWindowMs: number;
}

/**
 * `credmesh provision`: makes the credmesh streams match this release's configuration (replicas,
 * duplicate window, retention, subjects). The services create a missing stream at boot but never
 * change one — their bus roles may not — so a configuration change is applied here, with the bus
 * `admin` identity (`--nkey admin.nk`). `--dry-run` only lists the differences (and creates
 * nothing: it reads as the operator may).
 */
export async function provision(ctx: CommandContext, options: ProvisionOptions): Promise<ExitCode> {
  const settings = { replicas: options.streamReplicas, duplicateWindowMs: options.duplicateWindowMs, maxAgeMs: DEFAULT_STREAM_SETTINGS.maxAgeMs };
  const outcome = await ensureStreams(ctx.nc, settings, { update: !options.dryRun, create: !options.dryRun });
  if (ctx.json) {
    ctx.io.out(json({ dryRun: options.dryRun, ...outcome }));
    return 0;
  }
  const rows = [
    ...outcome.created.map((stream) => [stream, "created"]),
    ...outcome.missing.map((stream) => [stream, "missing"]),
    ...outcome.updated.map((drift) => [drift.stream, `updated: ${drift.fields.join(", ")}`]),
    ...outcome.differing.map((drift) => [drift.stream, `differs: ${drift.fields.join(", ")}`]),
  ];
  ctx.io.out(rows.length === 0 ? "every credmesh stream matches this release's configuration" : table(["STREAM", "CHANGE"], rows));
  return 0;
}
