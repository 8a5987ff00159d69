/** TLS and authorization of a nats-server (see @credmesh/bus-roles for the authorization block). */
export interface NatsServerSecurity {
  /** The server's certificate and key (PEM files); absent: plaintext. */
  tls?: { certFile: string; keyFile: string };
  /** The `authorization { users: [...] }` block of every role (writeBusCredentials' authorization.conf). */
  authorization?: string;
}

/**
 * A nats-server configuration file: a listener on `host` (127.0.0.1 unless a container binds all
 * interfaces), JetStream in `storeDir`, optionally the monitoring port, TLS and the role identities.
 */
export function natsServerConfig(options: { host?: string; port: number; monitorPort?: number; storeDir: string; security?: NatsServerSecurity }): string {
  const { host = "127.0.0.1", port, monitorPort, storeDir, security = {} } = options;
  return [
    `listen: "${host}:${port}"`,
    ...(monitorPort === undefined ? [] : [`http: "${host}:${monitorPort}"`]),
    `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
    ...(security.tls ? [`tls { cert_file: ${JSON.stringify(security.tls.certFile)}, key_file: ${JSON.stringify(security.tls.keyFile)}, timeout: 5 }`] : []),
    // Inline, not `include`: nats-server resolves an include relative to the configuration file.
    ...(security.authorization === undefined ? [] : [security.authorization]),
    "",
  ].join("\n");
}
