import { resolve } from "node:path";
import { DEFAULT_PARTITIONS, type Cloud } from "@credmesh/bus-names";
import { CREDENTIAL_FILES, roleName, writeBusCredentials } from "@credmesh/bus-roles";
import { json, table, type Io } from "../output.ts";
import type { ExitCode } from "./context.ts";

export interface BusCredentialsOptions {
  out: string;
  replicators: Array<{ destination: Cloud; cell: string }>;
  partitions: number | undefined;
}

/**
 * `credmesh bus-credentials`: one nkey per bus role of this deployment (ingest, each replicator
 * cell, identity-watcher, operator, auditor, admin) in `--out` — a seed file per role (0600, the
 * secret a process authenticates with; existing seeds are kept) and the nats-server authorization
 * rendered from @credmesh/bus-roles (public keys and permissions only), as an include file and as
 * values for the nats Helm chart. Needs no bus. Run it per deployment; never commit the seeds.
 */
export function busCredentials(io: Io, jsonOutput: boolean, options: BusCredentialsOptions, env: NodeJS.ProcessEnv): ExitCode {
  const partitions = options.partitions ?? partitionsFromEnv(env);
  const dir = resolve(options.out);
  const written = writeBusCredentials(dir, { partitions, replicators: options.replicators });
  const roles = written.map((credential) => ({ role: roleName(credential.role), publicKey: credential.publicKey, seedFile: credential.seedFile }));
  const files = {
    serverAuthorization: resolve(dir, CREDENTIAL_FILES.serverAuthorization),
    natsChartValues: resolve(dir, CREDENTIAL_FILES.natsChartValues),
  };
  if (jsonOutput) {
    io.out(json({ dir, partitions, roles, files }));
    return 0;
  }
  io.out(table(["ROLE", "PUBLIC KEY", "SEED FILE (secret)"], roles.map((role) => [role.role, role.publicKey, role.seedFile])));
  io.out(`nats-server include: ${files.serverAuthorization}`);
  io.out(`nats chart values:   ${files.natsChartValues}`);
  return 0;
}

function partitionsFromEnv(env: NodeJS.ProcessEnv): number {
  const value = Number(env["CREDMESH_PARTITIONS"] ?? DEFAULT_PARTITIONS);
  return Number.isInteger(value) && value >= 1 && value <= 256 ? value : DEFAULT_PARTITIONS;
}
