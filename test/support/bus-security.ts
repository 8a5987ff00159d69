import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CREDENTIAL_FILES, inboxPrefixOf, writeBusCredentials, type BusDeployment, type BusRole } from "@credmesh/bus-roles";
import { DEFAULT_PARTITIONS } from "@credmesh/bus-names";
import { connectionOptions, type BusConnectionConfig } from "@credmesh/bus";
import type { NatsServerSecurity } from "@credmesh/local-mesh";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createTlsMaterial } from "../emulators/keyvault/tls.ts";

/**
 * The bus as production runs it, for tests: TLS with a throw-away CA (hostname verification on:
 * the server certificate names 127.0.0.1 and localhost) and one nkey identity per role, with the
 * permissions of @credmesh/bus-roles — the same description `credmesh bus-credentials`, compose and
 * Helm use. Services get their role's seed file and the CA; the test's own clients connect as
 * `admin` unless they ask for a role.
 */
export interface BusSecurity {
  readonly dir: string;
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** nats-server include file with the users and their permissions. */
  readonly authorizationFile: string;
  readonly deployment: BusDeployment;
  /** The nkey seed file of a role's identity. */
  seedFile(role: BusRole): string;
}

/** The harness's own identity for its observers and fixtures: unrestricted, like a bus admin. */
export const ADMIN: BusRole = { kind: "admin" };

/** The deployment a plain test bus describes: the default partitions, no replicator cell. */
export const DEFAULT_DEPLOYMENT: BusDeployment = { partitions: DEFAULT_PARTITIONS, replicators: [] };

export async function createBusSecurity(dir: string, deployment: BusDeployment = DEFAULT_DEPLOYMENT): Promise<BusSecurity> {
  const tlsDir = join(dir, "tls");
  await mkdir(tlsDir, { recursive: true });
  const tls = await createTlsMaterial(tlsDir);
  const serverCertFile = join(tlsDir, "nats-server.crt");
  const serverKeyFile = join(tlsDir, "nats-server.key");
  await writeFile(serverCertFile, tls.cert);
  await writeFile(serverKeyFile, tls.key, { mode: 0o600 });
  const credentialsDir = join(dir, "credentials");
  writeBusCredentials(credentialsDir, deployment);
  return {
    dir,
    caFile: tls.caCertPath,
    serverCertFile,
    serverKeyFile,
    authorizationFile: join(credentialsDir, CREDENTIAL_FILES.serverAuthorization),
    deployment,
    seedFile: (role) => join(credentialsDir, CREDENTIAL_FILES.seed(role)),
  };
}

/** What nats-server needs of the test bus's security: its certificate and every role's authorization. */
export async function natsServerSecurity(security: BusSecurity | undefined): Promise<NatsServerSecurity> {
  if (!security) return {};
  return { tls: { certFile: security.serverCertFile, keyFile: security.serverKeyFile }, authorization: await readFile(security.authorizationFile, "utf8") };
}

/** A bus as tests reach it: its URL, and how a service, a test client or a CLI connects as a role. */
export interface BusAccess {
  /** `tls://127.0.0.1:<port>`, or `nats://…` for a plaintext bus; a cluster's nodes comma-separated. */
  readonly url: string;
  /** TLS and the role identities; undefined for a plaintext bus. */
  readonly security: BusSecurity | undefined;
  /** The CREDMESH_NATS_* settings of a service (or the CLI) running as `role`. */
  env(role: BusRole): Record<string, string>;
  /** Connects a test client, as the harness admin unless a role is given. */
  connect(role?: BusRole, name?: string): Promise<NatsConnection>;
  /** What @credmesh/bus connectBus needs to connect as `role` (admin by default). */
  connection(role?: BusRole): Omit<BusConnectionConfig, "name">;
  /** `credmesh` CLI connection flags (the operator role unless another is given). */
  credmeshArgs(role?: BusRole): string[];
  /** `nats` CLI connection flags as `role`, with the role's own inbox. */
  natsArgs(role: BusRole): string[];
}

export function busAccess(url: string, security: BusSecurity | undefined): BusAccess {
  const connection = (role: BusRole = ADMIN): Omit<BusConnectionConfig, "name"> =>
    security
      ? { servers: url.split(","), auth: { kind: "nkey", seedFile: security.seedFile(role) }, tls: { caFile: security.caFile }, inboxPrefix: inboxPrefixOf(role) }
      : { servers: url.split(",") };
  return {
    url,
    security,
    env: (role): Record<string, string> =>
      security
        ? { CREDMESH_NATS_URL: url, CREDMESH_NATS_CA_FILE: security.caFile, CREDMESH_NATS_NKEY_SEED_FILE: security.seedFile(role) }
        : { CREDMESH_NATS_URL: url, CREDMESH_NATS_PLAINTEXT: "true" },
    connect: (role, name) => connect({ ...connectionOptions(connection(role)), name: name ?? `credmesh-test-${role?.kind ?? "admin"}` }),
    connection,
    credmeshArgs: (role = { kind: "operator" }) => (security ? ["--server", url, "--ca", security.caFile, "--nkey", security.seedFile(role)] : ["--server", url]),
    natsArgs: (role) =>
      security ? ["--server", url, "--tlsca", security.caFile, "--nkey", security.seedFile(role), "--inbox-prefix", inboxPrefixOf(role)] : ["--server", url],
  };
}
