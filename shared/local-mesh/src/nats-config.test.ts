import { describe, expect, it } from "vitest";
import { natsServerConfig } from "./nats-config.ts";

describe("natsServerConfig", () => {
  it("writes a single server: listener, monitoring, JetStream store, TLS and the role identities", () => {
    const config = natsServerConfig({ port: 4222, monitorPort: 8222, storeDir: "/data", security: { tls: { certFile: "/c.pem", keyFile: "/k.pem" }, authorization: "authorization { users: [] }" } });
    expect(config.split("\n")).toEqual([
      'listen: "127.0.0.1:4222"',
      'http: "127.0.0.1:8222"',
      'jetstream { store_dir: "/data" }',
      'tls { cert_file: "/c.pem", key_file: "/k.pem", timeout: 5 }',
      "authorization { users: [] }",
      "",
    ]);
  });

  it("writes a cluster node: its server_name, routes to every node, fsync on every write when asked", () => {
    const config = natsServerConfig({
      port: 4222,
      storeDir: "/data/n2",
      cluster: { serverName: "n2", clusterName: "credmesh", routePort: 6223, routePorts: [6222, 6223, 6224] },
      syncInterval: "always",
    });
    expect(config).toContain('server_name: "n2"');
    expect(config).toContain('jetstream { store_dir: "/data/n2", sync_interval: always }');
    expect(config).toContain('  listen: "127.0.0.1:6223"');
    expect(config).toContain('  routes: ["nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223", "nats-route://127.0.0.1:6224"]');
    expect(config).not.toContain("authorization");
    expect(natsServerConfig({ port: 4222, storeDir: "/d" })).not.toContain("sync_interval");
  });
});
