import { permissionsOf, type Permissions } from "./permissions.ts";
import { roleName, type BusDeployment, type BusRole } from "./roles.ts";

/** An identity with the public half of its nkey (the seed stays with the process that uses it). */
export interface RoleKey {
  role: BusRole;
  /** The nkey's public key, `U…`. */
  publicKey: string;
}

/** How long a service may take to answer a request it received (reconcile runs are the longest). */
const RESPONSE_WINDOW = "10m";

/** One nats-server user entry: the nkey and its permissions. */
function userEntry(key: RoleKey, deployment: BusDeployment): Record<string, unknown> {
  const permissions: Permissions = permissionsOf(key.role, deployment);
  const rendered: Record<string, unknown> = {};
  if (permissions.publish) rendered["publish"] = permissions.publish;
  if (permissions.subscribe) rendered["subscribe"] = permissions.subscribe;
  if (permissions.allowResponses) rendered["allow_responses"] = { max: 1, expires: RESPONSE_WINDOW };
  return Object.keys(rendered).length === 0 ? { nkey: key.publicKey } : { nkey: key.publicKey, permissions: rendered };
}

/**
 * The `authorization` block of a nats-server configuration (include it from the server's file):
 * one nkey user per identity with its permissions. Public keys only — the file is not a secret.
 * nats-server's configuration format accepts JSON values, so each user is written as JSON.
 */
export function renderServerAuthorization(keys: readonly RoleKey[], deployment: BusDeployment): string {
  const users = keys.map((key) => `    # ${roleName(key.role)}\n    ${JSON.stringify(userEntry(key, deployment))}`);
  return [
    "# credmesh bus identities: one nkey user per role, generated from @credmesh/bus-roles",
    "# (`credmesh bus-credentials`). Public keys only; each seed stays with its process.",
    "authorization {",
    "  users: [",
    users.join(",\n"),
    "  ]",
    "}",
    "",
  ].join("\n");
}

/**
 * The same users as values for the official `nats` Helm chart (`config.merge.authorization`).
 * JSON is YAML, so the file can be passed with `-f` as it is.
 */
export function renderNatsChartValues(keys: readonly RoleKey[], deployment: BusDeployment): string {
  const values = { config: { merge: { authorization: { users: keys.map((key) => userEntry(key, deployment)) } } } };
  return [
    "# credmesh bus identities for the nats chart (helm ... -f this-file), generated from @credmesh/bus-roles",
    "# (`credmesh bus-credentials`). Public keys only; each seed goes into its service's Secret.",
    JSON.stringify(values, null, 2),
    "",
  ].join("\n");
}
