import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { localPrometheusConfig } from "./prometheus-config.ts";
import { LOCAL_BUS_DEPLOYMENT, LOCAL_PARTS, LOCAL_SERVICE_NAMES, LOCAL_SERVICES, localBusRole, localPlaintextBus, localServiceEnv, type LocalAddresses } from "./topology.ts";

const WHERE: LocalAddresses = {
  bindHost: "127.0.0.1",
  bus: (service) => localPlaintextBus("nats://127.0.0.1:4222", `/run/bus/${service}.nk`),
  awsEndpoint: "http://127.0.0.1:5000",
  imdsEndpoint: "http://127.0.0.1:8081/metadata/identity/oauth2/token",
  vaultUrl: "https://127.0.0.1:8443",
  vaultUrlTemplate: "https://127.0.0.1:8443",
  azureCaFile: "/run/ca.crt",
  rulesFile: "/run/rules.yaml",
  cellsFile: "/run/cells.yaml",
};
const KEYS = { eventBridgeApiKeys: ["k1", "k2"], contentHashKey: "h".repeat(64) };

describe("the local topology", () => {
  it("gives every service its own bus identity, each one the deployment's", () => {
    const roles = LOCAL_SERVICE_NAMES.map((service) => localBusRole(service));
    expect(new Set(roles.map((role) => JSON.stringify(role))).size).toBe(LOCAL_SERVICE_NAMES.length);
    const cells = roles.flatMap((role) => (role.kind === "replicator" ? [{ destination: role.destination, cell: role.cell }] : []));
    expect(cells).toEqual([...LOCAL_BUS_DEPLOYMENT.replicators]);
    expect(localServiceEnv("replicator-aws", WHERE, KEYS)).toMatchObject({ CREDMESH_NATS_PLAINTEXT: "true", CREDMESH_NATS_NKEY_SEED_FILE: "/run/bus/replicator-aws.nk" });
  });

  it("gives every part its own port (they all run on one host under credmesh up)", () => {
    const ports = [
      ...Object.values(LOCAL_PARTS).flatMap((part) => Object.entries(part).filter(([key]) => key.toLowerCase().endsWith("port")).map(([, port]) => port as number)),
      ...LOCAL_SERVICE_NAMES.map((name) => LOCAL_SERVICES[name].port),
    ];
    expect(new Set(ports).size).toBe(ports.length);
  });

  it("enables the Event Grid webhook only with a shared key, and takes a test's port", () => {
    expect(localServiceEnv("ingest", WHERE, KEYS)).not.toHaveProperty("CREDMESH_EVENTGRID_AUTH");
    expect(localServiceEnv("ingest", WHERE, { ...KEYS, eventGridSharedKey: "g".repeat(40) }, { port: 18080 })).toMatchObject({
      CREDMESH_EVENTGRID_AUTH: "shared-key",
      CREDMESH_EVENTBRIDGE_API_KEYS: "k1,k2",
      CREDMESH_INGEST_PORT: "18080",
    });
  });

  it("runs one replicator per destination, each its own cell, with anti-entropy only when asked", () => {
    const azure = localServiceEnv("replicator-azure", WHERE, KEYS, { reconcileIntervalSeconds: 10 });
    const aws = localServiceEnv("replicator-aws", WHERE, KEYS);
    expect([azure.CREDMESH_DESTINATION, aws.CREDMESH_DESTINATION]).toEqual(["azure", "aws"]);
    expect(azure.CREDMESH_CELL).not.toBe(aws.CREDMESH_CELL);
    expect(azure.CREDMESH_RECONCILE_INTERVAL_SECONDS).toBe("10");
    expect(aws).not.toHaveProperty("CREDMESH_RECONCILE_INTERVAL_SECONDS");
  });

  it("Prometheus scrapes every service under its job name and loads the alert rules", () => {
    const config = parse(localPrometheusConfig({ ruleDir: "/repo/deploy/prometheus", scrapeIntervalSeconds: 2, port: (service) => LOCAL_SERVICES[service].port + 10_000 })) as {
      global: { scrape_interval: string };
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    expect(config.global.scrape_interval).toBe("2s");
    expect(config.rule_files).toEqual(["/repo/deploy/prometheus/alerts.yml", "/repo/deploy/prometheus/identity-alerts.yml"]);
    expect(Object.fromEntries(config.scrape_configs.map((job) => [job.job_name, job.static_configs[0]?.targets]))).toEqual({
      "credmesh-ingest": ["127.0.0.1:18080"],
      "credmesh-replicator": ["127.0.0.1:19091", "127.0.0.1:19092"],
      "credmesh-identity-watcher": ["127.0.0.1:19093"],
    });
  });
});
