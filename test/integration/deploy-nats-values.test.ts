import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { CREDENTIAL_FILES } from "@credmesh/bus-roles";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/services.ts";

interface NatsValues {
  config: {
    cluster: { enabled: boolean; replicas: number };
    jetstream: { enabled: boolean; fileStore: { enabled: boolean; pvc: { enabled: boolean } }; merge: { sync_interval: string } };
    nats: { tls?: { enabled: boolean } };
  };
  promExporter: { enabled: boolean; podMonitor: { enabled: boolean } };
}

const read = (...path: string[]) => readFileSync(resolve(REPO_ROOT, ...path), "utf8");

/**
 * deploy/helm/nats-values.yaml, the values for the official nats chart, agrees with the rest of
 * deploy/. The nats chart itself is not vendored and cannot be fetched offline, so these values are
 * checked for consistency, not rendered.
 */
describe("deploy/helm/nats-values.yaml", () => {
  const values = parse(read("deploy", "helm", "nats-values.yaml")) as NatsValues;
  const chart = parse(read("deploy", "helm", "credmesh", "values.yaml")) as { nats: { url: string }; bus: { streamReplicas: number } };

  it("runs a JetStream cluster with persistent file storage and enough servers for credmesh's stream replicas", () => {
    expect(values.config.cluster.enabled).toBe(true);
    expect(values.config.jetstream).toMatchObject({ enabled: true, fileStore: { enabled: true, pvc: { enabled: true } } });
    expect(values.config.cluster.replicas).toBeGreaterThanOrEqual(chart.bus.streamReplicas);
    expect(chart.bus.streamReplicas).toBe(3);
  });

  it("makes the same durability choice as docker compose's NATS (sync_interval)", () => {
    const compose = /^\s*sync_interval:\s*(\S+)\s*$/m.exec(read("deploy", "docker", "nats", "nats.conf"))?.[1];
    expect(compose).toBe("always");
    expect(values.config.jetstream.merge.sync_interval).toBe(compose);
  });

  it("exports server and JetStream metrics to prometheus-operator", () => {
    expect(values.promExporter).toMatchObject({ enabled: true, podMonitor: { enabled: true } });
  });

  it("is the release the credmesh chart connects to by default, over TLS, with the users `credmesh bus-credentials` renders", () => {
    expect(new URL(chart.nats.url).hostname).toBe("nats");
    expect(new URL(chart.nats.url).protocol).toBe("tls:");
    expect(values.config.nats.tls?.enabled).toBe(true);
    expect(read("deploy", "helm", "nats-values.yaml")).toContain("helm install nats nats/nats");
    expect(read("deploy", "helm", "nats-values.yaml")).toContain(`-f ./bus-identities/${CREDENTIAL_FILES.natsChartValues}`);
  });
});
