import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createUser, fromSeed } from "@nats-io/nkeys";
import { renderNatsChartValues, renderServerAuthorization, type RoleKey } from "./render.ts";
import { roleName, rolesOf, type BusDeployment, type BusRole } from "./roles.ts";

/** The files {@link writeBusCredentials} leaves in its directory. */
export const CREDENTIAL_FILES = {
  /** nats-server include file: the users and their permissions (public keys only). */
  serverAuthorization: "authorization.conf",
  /** The same users as values for the `nats` Helm chart. */
  natsChartValues: "nats-values.authorization.yaml",
  /** A role's nkey seed: `<role name>.nk`, mode 0600 — the secret a process authenticates with. */
  seed: (role: BusRole) => `${roleName(role)}.nk`,
} as const;

export interface RoleCredential extends RoleKey {
  /** Path of the seed file. */
  seedFile: string;
}

/**
 * Makes every identity of a deployment an nkey, in `dir` (created 0700): a seed file per role
 * (0600) and the server's authorization rendered from the role description. Generated here, per
 * deployment, never committed. Existing seeds are kept, so adding a cell and running it again
 * changes no other identity's key.
 */
export function writeBusCredentials(dir: string, deployment: BusDeployment): RoleCredential[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const credentials = rolesOf(deployment).map((role): RoleCredential => {
    const seedFile = join(dir, CREDENTIAL_FILES.seed(role));
    let seed: string;
    if (existsSync(seedFile)) {
      seed = readFileSync(seedFile, "utf8").trim();
    } else {
      seed = new TextDecoder().decode(createUser().getSeed());
      writeFileSync(seedFile, `${seed}\n`, { mode: 0o600 });
    }
    chmodSync(seedFile, 0o600);
    return { role, seedFile, publicKey: fromSeed(new TextEncoder().encode(seed)).getPublicKey() };
  });
  writeFileSync(join(dir, CREDENTIAL_FILES.serverAuthorization), renderServerAuthorization(credentials, deployment));
  writeFileSync(join(dir, CREDENTIAL_FILES.natsChartValues), renderNatsChartValues(credentials, deployment));
  return credentials;
}
