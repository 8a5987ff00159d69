/** TLS and authorization of a nats-server (see @credmesh/bus-roles for the authorization block). */
export interface NatsServerSecurity {
  /** The server's certificate and key (PEM files); absent: plaintext. */
  tls?: { certFile: string; keyFile: string };
  /** The `authorization { users: [...] }` block of every role (writeBusCredentials' authorization.conf). */
  authorization?: string;
}

/**
 * A node of a JetStream cluster: its unique `server_name`, the cluster's name, its own route port
 * and every node's route port (its own among them is ignored), as nats-server's `cluster` block
 * takes them. Routes listen on the same host as clients.
 */
export interface NatsClusterMember {
  serverName: string;
  clusterName: string;
  routePort: number;
  routePorts: readonly number[];
}

/**
 * A nats-server configuration file: a listener on `host` (127.0.0.1 unless a container binds all
 * interfaces), JetStream in `storeDir`, optionally the monitoring port, TLS and the role identities;
 * for a cluster node, `cluster` (see {@link NatsClusterMember}) and JetStream's `syncInterval`
 * (`always`: fsync every write before acknowledging it; default: nats-server's own, every 2 min).
 */
export function natsServerConfig(options: {
  host?: string;
  port: number;
  monitorPort?: number;
  storeDir: string;
  security?: NatsServerSecurity;
  cluster?: NatsClusterMember;
  syncInterval?: "default" | "always";
}): string {
  const { host = "127.0.0.1", port, monitorPort, storeDir, security = {}, cluster, syncInterval = "default" } = options;
  return [
    ...(cluster ? [`server_name: ${JSON.stringify(cluster.serverName)}`] : []),
    `listen: "${host}:${port}"`,
    ...(monitorPort === undefined ? [] : [`http: "${host}:${monitorPort}"`]),
    `jetstream { store_dir: ${JSON.stringify(storeDir)}${syncInterval === "always" ? ", sync_interval: always" : ""} }`,
    ...(security.tls ? [`tls { cert_file: ${JSON.stringify(security.tls.certFile)}, key_file: ${JSON.stringify(security.tls.keyFile)}, timeout: 5 }`] : []),
    // Inline, not `include`: nats-server resolves an include relative to the configuration file.
    ...(security.authorization === undefined ? [] : [security.authorization]),
    ...(cluster
      ? [
          "cluster {",
          `  name: ${JSON.stringify(cluster.clusterName)}`,
          `  listen: "${host}:${cluster.routePort}"`,
          // Every node lists every route: any node can (re)join any other.
          `  routes: [${cluster.routePorts.map((routePort) => JSON.stringify(`nats-route://${host}:${routePort}`)).join(", ")}]`,
          // Clients are given every node's URL; gossip would only repeat them.
          "  no_advertise: true",
          "}",
        ]
      : []),
    "",
  ].join("\n");
}
