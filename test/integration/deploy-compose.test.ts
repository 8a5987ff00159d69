import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { connectionOptions } from "@credmesh/bus";
import { CREDENTIAL_FILES, inboxPrefixOf, type BusRole } from "@credmesh/bus-roles";
import { loadRules } from "@credmesh/config";
import {
  ALERT_RULE_FILES,
  COMPOSE_ONLY_PARTS,
  LOCAL_PARTS,
  LOCAL_RECONCILE_INTERVAL_SECONDS,
  LOCAL_SERVICES,
  LOCAL_SERVICE_NAMES,
  localPlaintextBus,
  localRules,
  localScrapeConfigs,
  localServiceEnv,
  type LocalAddresses,
  type LocalServiceName,
} from "@credmesh/local-mesh";
import { connect } from "@nats-io/transport-node";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveIngestConfig } from "../../services/ingest/src/config.ts";
import { resolveReplicatorConfig } from "../../services/replicator/src/config.ts";
import { resolveWatcherConfig } from "../../services/identity-watcher/src/config.ts";
import { runCredmesh } from "../support/credmesh-cli.ts";
import { ManagedProcess } from "../support/managed-process.ts";
import { freePort } from "../support/ports.ts";
import { REPO_ROOT } from "../support/services.ts";
import { requireTool } from "../support/tools.ts";
import { resolveRecording } from "./support/config-probe.ts";

const run = promisify(execFile);

/** The parts of `docker-compose config --format json` the checks read. */
interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[] | null;
  environment?: Record<string, string | null>;
  ports?: { host_ip?: string; target: number; published: string }[];
  volumes?: { type: string; source: string; target: string; read_only?: boolean; volume?: { subpath?: string } }[];
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}
interface ComposeModel {
  name: string;
  services: Record<string, ComposeService>;
}

/** The credmesh services of the compose file: the local topology's, each running its entry point. */
const CREDMESH_SERVICES = Object.fromEntries(LOCAL_SERVICE_NAMES.map((name) => [name, LOCAL_SERVICES[name].entry])) as Record<LocalServiceName, string>;

/** Where the parts are inside the compose network: what the topology's environments must say there. */
const COMPOSE_ADDRESSES: LocalAddresses = {
  bindHost: "0.0.0.0",
  // Plaintext inside the compose network, each service with its own identity's seed (see below).
  bus: (service) =>
    localPlaintextBus(`nats://nats:${LOCAL_PARTS.nats.port}`, `/var/lib/credmesh/bus/${service.startsWith("replicator") ? "replicator" : service}.nk`),
  awsEndpoint: `http://moto:${LOCAL_PARTS.moto.port}`,
  imdsEndpoint: `http://keyvault:${LOCAL_PARTS.keyvault.imdsPort}/metadata/identity/oauth2/token`,
  vaultUrl: `https://keyvault:${LOCAL_PARTS.keyvault.port}`,
  vaultUrlTemplate: `https://{vault}:${LOCAL_PARTS.keyvault.port}`,
  azureCaFile: "/var/lib/credmesh/keyvault-certs/ca.crt",
  rulesFile: "/etc/credmesh/rules.yaml",
  cellsFile: "/etc/credmesh/cells.yaml",
};
/** The compose file's local defaults of the keys (overridable with CREDMESH_LOCAL_*). */
const COMPOSE_KEYS = {
  eventBridgeApiKeys: ["local-dev-key-change-me"],
  eventGridSharedKey: "local-dev-eventgrid-key-0123456789abcdef",
  contentHashKey: "local-dev-content-hash-key-0123456789abcdef",
};

/**
 * docker-compose.yml, validated by the real Compose v5 (`config` parses, interpolates and checks it
 * against the Compose specification without an engine), and read for what the mesh needs: every
 * part, both directions, settings the services accept, Prometheus scraping every service, Grafana
 * with the dashboards, NATS with JetStream and fsync on every write. Nothing is run here (no
 * container engine on these machines), except nats-server with the compose NATS configuration.
 */
describe("docker-compose.yml", () => {
  let model: ComposeModel;

  beforeAll(async () => {
    const { stdout } = await run(requireTool("dockerCompose"), ["--file", "docker-compose.yml", "config", "--format", "json"], {
      cwd: REPO_ROOT,
      // No CREDMESH_LOCAL_* overrides from the caller's environment: the file's defaults are checked.
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
    });
    model = JSON.parse(stdout) as ComposeModel;
  });

  it("is valid for Compose v5, top-level name included, and runs exactly the parts of the local topology", () => {
    expect(model.name).toBe("credmesh");
    // The topology's parts, plus bus-credentials: compose's one-shot maker of the bus identities (`credmesh up` makes them in-process).
    expect(Object.keys(model.services).sort()).toEqual([...Object.keys(LOCAL_PARTS), ...LOCAL_SERVICE_NAMES, ...Object.keys(COMPOSE_ONLY_PARTS), "bus-credentials"].sort());
  });

  describe("matches the local topology that `credmesh up` runs (shared/local-mesh)", () => {
    const published = (name: string) => (model.services[name]?.ports ?? []).map((port) => `${port.host_ip}:${port.published}:${port.target}`).sort();

    it.each(LOCAL_SERVICE_NAMES)("%s: the topology's environment, entry point and port", (name) => {
      const service = model.services[name];
      expect(service?.command).toEqual(["node", LOCAL_SERVICES[name].entry]);
      expect(service?.environment).toEqual(localServiceEnv(name, COMPOSE_ADDRESSES, COMPOSE_KEYS, { reconcileIntervalSeconds: LOCAL_RECONCILE_INTERVAL_SECONDS }));
      const port = LOCAL_SERVICES[name].port;
      expect(published(name)).toEqual([`127.0.0.1:${port}:${port}`]);
      expect(service?.healthcheck?.test.join(" ")).toContain(`http://127.0.0.1:${port}/readyz`);
    });

    it("third-party parts on the topology's ports", () => {
      const { nats, moto, keyvault, prometheus } = LOCAL_PARTS;
      expect(published("nats")).toEqual([`127.0.0.1:${nats.port}:${nats.port}`, `127.0.0.1:${nats.monitorPort}:${nats.monitorPort}`].sort());
      expect(published("moto")).toEqual([`127.0.0.1:${moto.port}:${moto.port}`]);
      expect(published("keyvault")).toEqual([`127.0.0.1:${keyvault.port}:${keyvault.port}`]);
      expect(model.services.keyvault?.command).toEqual(expect.arrayContaining([`--port=${keyvault.port}`, `--imds-port=${keyvault.imdsPort}`, "--container-hostname=keyvault"]));
      expect(published("prometheus")).toEqual([`127.0.0.1:${prometheus.port}:${prometheus.port}`]);
      for (const [name, part] of Object.entries(COMPOSE_ONLY_PARTS)) expect(published(name)).toEqual([`127.0.0.1:${part.port}:${part.port}`]);
    });

    it("deploy/local/rules.yaml is the topology's rules with compose's vault URL", async () => {
      const file: unknown = parse(await readFile(resolve(REPO_ROOT, "deploy", "local", "rules.yaml"), "utf8"));
      expect(file).toEqual(localRules(COMPOSE_ADDRESSES.vaultUrl));
    });

    it("deploy/prometheus/prometheus.yml scrapes the topology's services (by compose host name) and the NATS exporter, with the alert rules", async () => {
      const config = parse(await readFile(resolve(REPO_ROOT, "deploy", "prometheus", "prometheus.yml"), "utf8")) as { rule_files: string[]; scrape_configs: { job_name: string }[] };
      expect(config.rule_files).toEqual([...ALERT_RULE_FILES]);
      expect(config.scrape_configs.filter((job) => job.job_name !== "nats")).toEqual(localScrapeConfigs((service) => service));
      expect(config.scrape_configs.find((job) => job.job_name === "nats")).toEqual({
        job_name: "nats",
        metrics_path: "/metrics",
        static_configs: [{ targets: [`nats-exporter:${COMPOSE_ONLY_PARTS["nats-exporter"].port}`] }],
      });
    });
  });

  it("Compose refuses what the specification does not allow (the check can fail)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "credmesh-compose-"));
    try {
      await writeFile(join(dir, "compose.yml"), "name: broken\nservices:\n  a:\n    image: busybox\n    restart_policy: always\n");
      await expect(run(requireTool("dockerCompose"), ["--file", join(dir, "compose.yml"), "config"])).rejects.toThrow(/restart_policy/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("runs both directions: a replicator per destination, and rules both ways", async () => {
    const destinations = ["replicator-azure", "replicator-aws"].map((name) => model.services[name]?.environment?.CREDMESH_DESTINATION);
    expect(destinations).toEqual(["azure", "aws"]);
    const rules = loadRules(resolve(REPO_ROOT, "deploy", "local", "rules.yaml"));
    expect(rules.map((rule) => `${rule.source.cloud}->${rule.destination.cloud}`).sort()).toEqual(["aws->azure", "azure->aws"]);
    const mounted = model.services.ingest?.volumes?.find((volume) => volume.target === model.services.ingest?.environment?.CREDMESH_RULES_FILE);
    expect(mounted?.source).toBe(resolve(REPO_ROOT, "deploy", "local", "rules.yaml"));
  });

  it.each(LOCAL_SERVICE_NAMES)("%s: its settings exist and its configuration accepts them", async (name) => {
    const service = model.services[name];
    expect(service?.command).toEqual(["node", CREDMESH_SERVICES[name]]);
    const env = Object.fromEntries(Object.entries(service?.environment ?? {}).map(([key, value]) => [key, value ?? ""]));
    // The rules and cells files are the ones compose mounts; other paths are read only when used.
    const local =
      name === "identity-watcher"
        ? { ...env, CREDMESH_IDENTITY_CELLS_FILE: resolve(REPO_ROOT, "deploy", "local", "cells.yaml") }
        : { ...env, CREDMESH_RULES_FILE: resolve(REPO_ROOT, "deploy", "local", "rules.yaml") };
    const resolver: (env: Record<string, string | undefined>) => unknown =
      name === "ingest" ? resolveIngestConfig : name === "identity-watcher" ? resolveWatcherConfig : resolveReplicatorConfig;
    const { error, consulted } = resolveRecording(resolver, local);
    expect(error === undefined ? [] : ((error as { issues?: string[] }).issues ?? [(error as Error).message])).toEqual([]);
    expect(Object.keys(env).filter((variable) => !consulted.has(variable))).toEqual([]);
  });

  it("hardens the credmesh containers as the Helm chart does", () => {
    for (const name of [...Object.keys(CREDMESH_SERVICES), "keyvault", "bus-credentials"]) {
      const service = model.services[name];
      expect(service?.build?.dockerfile, name).toBe("deploy/docker/Dockerfile");
      expect(service?.read_only, name).toBe(true);
      expect(service?.cap_drop, name).toEqual(["ALL"]);
      expect(service?.security_opt, name).toContain("no-new-privileges:true");
    }
  });

  it("gives each credmesh service its own bus identity, and only that one", () => {
    const command = model.services["bus-credentials"]?.command ?? [];
    const replicators = command.filter((arg) => arg.startsWith("--replicator=")).map((arg) => arg.slice("--replicator=".length));
    for (const name of Object.keys(CREDMESH_SERVICES) as (keyof typeof CREDMESH_SERVICES)[]) {
      const service = model.services[name];
      const env = service?.environment ?? {};
      const role: BusRole =
        name === "ingest" ? { kind: "ingest" } : name === "identity-watcher" ? { kind: "identity-watcher" } : { kind: "replicator", destination: env.CREDMESH_DESTINATION as "azure" | "aws", cell: env.CREDMESH_CELL ?? "" };
      if (role.kind === "replicator") expect(replicators, name).toContain(`${role.destination}:${role.cell}`);
      const identities = (service?.volumes ?? []).filter((volume) => volume.source === "bus-credentials");
      expect(identities, name).toEqual([
        { type: "volume", source: "bus-credentials", target: env.CREDMESH_NATS_NKEY_SEED_FILE, read_only: true, volume: { subpath: CREDENTIAL_FILES.seed(role) } },
      ]);
    }
    // The server reads the authorization only; no seed is mounted into it.
    expect((model.services.nats?.volumes ?? []).filter((volume) => volume.source === "bus-credentials").map((volume) => volume.volume?.subpath)).toEqual([CREDENTIAL_FILES.serverAuthorization]);
  });

  it("publishes ports on 127.0.0.1 only", () => {
    for (const [name, service] of Object.entries(model.services)) {
      for (const port of service.ports ?? []) expect(port.host_ip, `${name}:${port.target}`).toBe("127.0.0.1");
    }
  });

  it("Prometheus scrapes every credmesh service and the NATS exporter, and loads the alert rules", async () => {
    const prometheus = model.services.prometheus;
    const mount = prometheus?.volumes?.find((volume) => volume.target === "/etc/prometheus");
    expect(mount?.source).toBe(resolve(REPO_ROOT, "deploy", "prometheus"));
    const config = parse(await readFile(resolve(REPO_ROOT, "deploy", "prometheus", "prometheus.yml"), "utf8")) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = config.scrape_configs.flatMap((job) => job.static_configs.flatMap((group) => group.targets));
    for (const name of Object.keys(CREDMESH_SERVICES)) {
      const env = model.services[name]?.environment ?? {};
      const port = env.CREDMESH_INGEST_PORT ?? env.CREDMESH_REPLICATOR_OPS_PORT ?? env.CREDMESH_IDENTITY_OPS_PORT;
      expect(targets, name).toContain(`${name}:${port}`);
    }
    const exporter = model.services["nats-exporter"];
    expect(exporter?.command).toContain("-jsz=all");
    expect(exporter?.command?.at(-1)).toBe("http://nats:8222");
    expect(targets).toContain(`nats-exporter:${exporter?.command?.find((arg) => arg.startsWith("-port="))?.slice("-port=".length)}`);
    expect(config.rule_files).toEqual(expect.arrayContaining(["alerts.yml", "identity-alerts.yml"]));
    // Every scrape target is a compose service.
    for (const target of targets) expect(Object.keys(model.services), target).toContain(target.split(":")[0]);
  });

  it("Grafana gets the Prometheus datasource and every dashboard of deploy/grafana/dashboards", async () => {
    const volumes = model.services.grafana?.volumes ?? [];
    const dashboards = volumes.find((volume) => volume.source === resolve(REPO_ROOT, "deploy", "grafana", "dashboards"));
    const provisioning = volumes.find((volume) => volume.source === resolve(REPO_ROOT, "deploy", "grafana", "provisioning"));
    expect(provisioning?.target).toBe("/etc/grafana/provisioning");
    const provider = parse(await readFile(resolve(REPO_ROOT, "deploy", "grafana", "provisioning", "dashboards", "credmesh.yml"), "utf8")) as {
      providers: { options: { path: string } }[];
    };
    expect(provider.providers[0]?.options.path).toBe(dashboards?.target);
    const datasource = parse(await readFile(resolve(REPO_ROOT, "deploy", "grafana", "provisioning", "datasources", "prometheus.yml"), "utf8")) as {
      datasources: { url: string }[];
    };
    expect(datasource.datasources[0]?.url).toBe("http://prometheus:9090");
  });

  describe("NATS", () => {
    let server: ManagedProcess | undefined;
    let dir: string;
    let monitor: string;
    let url: string;

    beforeAll(async () => {
      const nats = model.services.nats;
      const config = nats?.volumes?.find((volume) => volume.target === "/etc/nats/nats.conf");
      expect(nats?.command).toEqual(["-c", "/etc/nats/nats.conf"]);
      expect(config?.source).toBe(resolve(REPO_ROOT, "deploy", "docker", "nats", "nats.conf"));
      expect(nats?.volumes?.find((volume) => volume.target === "/data")?.type).toBe("volume");
      // The compose configuration as is, except where it listens and stores: loopback and a scratch directory.
      const text = await readFile(config?.source ?? "", "utf8");
      dir = await mkdtemp(join(tmpdir(), "credmesh-compose-nats-"));
      const [client, http] = [await freePort(), await freePort()];
      monitor = `http://127.0.0.1:${http}`;
      const local = replaceOnce(replaceOnce(replaceOnce(text, "listen: 0.0.0.0:4222", `listen: 127.0.0.1:${client}`), "http: 0.0.0.0:8222", `http: 127.0.0.1:${http}`), "store_dir: /data", `store_dir: ${join(dir, "data")}`);
      await writeFile(join(dir, "nats.conf"), local);
      // The identities as the compose service bus-credentials makes them: its own command, another directory.
      const command = (model.services["bus-credentials"]?.command ?? []).slice(2).map((arg) => (arg.startsWith("--out=") ? `--out=${join(dir, "bus")}` : arg));
      const made = await runCredmesh(command);
      expect(made.code, made.stderr).toBe(0);
      await copyFile(join(dir, "bus", CREDENTIAL_FILES.serverAuthorization), join(dir, CREDENTIAL_FILES.serverAuthorization));
      await run(requireTool("natsServer"), ["-c", join(dir, "nats.conf"), "-t"]);
      server = new ManagedProcess("nats-server", requireTool("natsServer"), ["-c", join(dir, "nats.conf")]);
      await server.waitForLine(/Server is ready/);
      url = `nats://127.0.0.1:${client}`;
    });

    afterAll(async () => {
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it("runs the compose configuration with JetStream, fsyncing every write before it acknowledges", async () => {
      const varz = (await (await fetch(`${monitor}/varz`)).json()) as { jetstream?: { config?: { sync_always?: boolean; store_dir?: string } } };
      expect(varz.jetstream?.config?.sync_always).toBe(true);
      expect(varz.jetstream?.config?.store_dir).toContain(dir);
      // The compose healthcheck's endpoint answers ok once JetStream is up.
      const health = model.services.nats?.healthcheck?.test.find((arg) => arg.includes("/healthz"));
      const response = await fetch(`${monitor}${new URL(health ?? "").pathname}${new URL(health ?? "").search}`);
      expect(response.status).toBe(200);
    });

    it("admits each role's identity with its permissions, and no connection without one", async () => {
      const seed = (role: BusRole) => join(dir, "bus", CREDENTIAL_FILES.seed(role));
      const ingest = await connect({ ...connectionOptions({ servers: [url], auth: { kind: "nkey", seedFile: seed({ kind: "ingest" }) }, inboxPrefix: inboxPrefixOf({ kind: "ingest" }) }) });
      try {
        await ingest.flush();
        const refused = ingest.subscribe("credmesh.audit.>");
        await expect((async () => {
          for await (const _ of refused) return;
        })()).rejects.toThrow(/Permissions Violation/);
      } finally {
        await ingest.close();
      }
      await expect(connect({ servers: url, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    });
  });
});

function replaceOnce(text: string, from: string, to: string): string {
  if (text.split(from).length !== 2) throw new Error(`expected exactly one "${from}" in the NATS configuration`);
  return text.replace(from, to);
}
