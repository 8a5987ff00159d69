import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CREDENTIAL_FILES, type BusRole } from "@credmesh/bus-roles";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { resolveIngestConfig } from "../../services/ingest/src/config.ts";
import { resolveReplicatorConfig } from "../../services/replicator/src/config.ts";
import { resolveWatcherConfig } from "../../services/identity-watcher/src/config.ts";
import { REPO_ROOT } from "../support/services.ts";
import { materializeFiles, resolveRecording, secretSettings, secretsSetDirectly } from "./support/config-probe.ts";
import {
  CHART_DIR,
  NAMESPACE,
  byKindAndName,
  envOf,
  fileSource,
  filesOf,
  helm,
  parseManifests,
  renderChart,
  workloads,
  podOf,
  type K8sObject,
  type Workload,
} from "./support/helm-chart.ts";
import { schemaProblems, unknownFieldProblems } from "./support/k8s-schemas.ts";
import { readHclVariableDefault } from "./support/terraform.ts";

/** The setups the chart is rendered with: its defaults and one values file per cloud. */
const SETUPS = {
  default: [],
  eks: ["examples/values-eks.yaml"],
  aks: ["examples/values-aks.yaml"],
} as const satisfies Record<string, readonly string[]>;
type Setup = keyof typeof SETUPS;

const MOUNT_ROOT = "/var/run/credmesh";

/**
 * deploy/helm/credmesh, checked by the real Helm v4 (lint, template) and the Kubernetes API
 * schemas, and read as an operator's reviewer would: hardened pods, the cloud identities of each
 * setup, secrets by reference only, and environments the services' own configuration accepts.
 */
describe("deploy/helm/credmesh", () => {
  const rendered = {} as Record<Setup, K8sObject[]>;

  beforeAll(async () => {
    for (const setup of Object.keys(SETUPS) as Setup[]) rendered[setup] = await renderChart([...SETUPS[setup]]);
  });

  it.each(Object.keys(SETUPS) as Setup[])("passes helm lint --strict (%s values)", async (setup) => {
    const args = ["lint", CHART_DIR, "--strict", "--namespace", NAMESPACE, ...SETUPS[setup].flatMap((file) => ["--values", resolve(CHART_DIR, file)])];
    const { stdout } = await helm(args);
    expect(stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
    expect(stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it.each(Object.keys(SETUPS) as Setup[])("renders only objects that the Kubernetes API schemas accept (%s values)", (setup) => {
    const objects = rendered[setup];
    expect(objects.length).toBeGreaterThan(3);
    expect(objects.flatMap(schemaProblems)).toEqual([]);
  });

  it("renders no field the Kubernetes API does not know (each object type-checked against its API type)", () => {
    expect(unknownFieldProblems(Object.values(rendered).flat())).toEqual([]);
  });

  it("the unknown-field check finds a misspelt field at any depth (the check can fail)", () => {
    const deployment = structuredClone(byKindAndName<Workload>(rendered.aks, "Deployment", "credmesh-replicator-azure"));
    const container = podOf(deployment).container as unknown as Record<string, Record<string, unknown>>;
    container.securityContext = { ...container.securityContext, readOnlyRootFileSystem: true };
    expect(unknownFieldProblems([deployment]).join("\n")).toMatch(/Deployment\/credmesh-replicator-azure: .*readOnlyRootFileSystem/);
  });

  it("packages into a self-contained chart that renders the same objects (linked files included)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "credmesh-chart-"));
    try {
      await helm(["package", CHART_DIR, "--destination", dir]);
      const [archive] = (await readdir(dir)).filter((file) => file.endsWith(".tgz"));
      const { stdout } = await helm(["template", "credmesh", join(dir, archive ?? ""), "--namespace", NAMESPACE, "--values", resolve(CHART_DIR, SETUPS.eks[0])]);
      expect(parseManifests(stdout)).toEqual(rendered.eks);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("renders what each setup asks for", () => {
    const names = (setup: Setup) => rendered[setup].map((object) => `${object.kind}/${object.metadata.name}`).sort();
    expect(names("default")).toEqual(["Deployment/credmesh-ingest", "PodDisruptionBudget/credmesh-ingest", "Service/credmesh-ingest", "ServiceAccount/ingest"]);
    expect(names("eks")).toEqual(
      [
        "ConfigMap/credmesh-cells",
        "ConfigMap/credmesh-dashboard-credmesh-bus",
        "ConfigMap/credmesh-dashboard-credmesh-identity",
        "ConfigMap/credmesh-dashboard-credmesh-overview",
        "Deployment/credmesh-identity-watcher",
        "Deployment/credmesh-ingest",
        "Deployment/credmesh-replicator-aws",
        "HorizontalPodAutoscaler/credmesh-ingest",
        "PodDisruptionBudget/credmesh-identity-watcher",
        "PodDisruptionBudget/credmesh-ingest",
        "PodDisruptionBudget/credmesh-replicator-aws",
        "PrometheusRule/credmesh",
        "Service/credmesh-identity-watcher",
        "Service/credmesh-ingest",
        "Service/credmesh-replicator-aws",
        "ServiceAccount/identity-watcher",
        "ServiceAccount/ingest",
        "ServiceAccount/replicator-aws",
        "ServiceMonitor/credmesh-identity-watcher",
        "ServiceMonitor/credmesh-ingest",
        "ServiceMonitor/credmesh-replicator-aws",
      ].sort(),
    );
    expect(names("aks")).toContain("Deployment/credmesh-replicator-azure");
    expect(names("aks")).toContain("Deployment/credmesh-identity-watcher");
    expect(names("default")).not.toContain("Deployment/credmesh-identity-watcher");
    expect(names("aks")).not.toContain("Deployment/credmesh-ingest");
    // With an HPA the Deployment leaves the replica count to it.
    expect(byKindAndName<Workload>(rendered.eks, "Deployment", "credmesh-ingest").spec).not.toHaveProperty("replicas");
  });

  describe.each(Object.keys(SETUPS) as Setup[])("every pod (%s values)", (setup) => {
    const pods = () => workloads(rendered[setup]).map((workload) => ({ name: workload.metadata.name, pod: workload.spec.template.spec }));

    it("runs non-root with seccomp RuntimeDefault and no Kubernetes API token", () => {
      for (const { name, pod } of pods()) {
        expect(pod.securityContext, name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
        expect(pod.securityContext?.runAsUser, name).not.toBe(0);
        expect(pod.automountServiceAccountToken, name).toBe(false);
        expect(pod.initContainers ?? [], name).toEqual([]);
      }
    });

    it("has containers with a read-only root filesystem, no privilege escalation and every capability dropped", () => {
      for (const { name, pod } of pods()) {
        for (const container of pod.containers) {
          expect(container.securityContext, `${name}/${container.name}`).toMatchObject({
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            privileged: false,
            runAsNonRoot: true,
          });
          expect(container.securityContext?.capabilities?.drop, name).toEqual(["ALL"]);
          expect(container.securityContext?.capabilities?.add ?? [], name).toEqual([]);
        }
      }
    });

    it("probes liveness on /healthz and readiness on /readyz of a port the container declares", () => {
      for (const { name, pod } of pods()) {
        for (const container of pod.containers) {
          const ports = (container.ports ?? []).map((port) => port.name);
          expect(container.livenessProbe?.httpGet?.path, name).toBe("/healthz");
          expect(container.readinessProbe?.httpGet?.path, name).toBe("/readyz");
          expect(ports, name).toContain(container.livenessProbe?.httpGet?.port);
          expect(ports, name).toContain(container.readinessProbe?.httpGet?.port);
        }
      }
    });

    it("reads every file setting from a read-only mount that provides that file", () => {
      for (const { name, pod } of pods()) {
        for (const container of pod.containers) {
          for (const [variable, path] of envOf(container)) {
            if (!variable.endsWith("_FILE")) continue;
            const source = fileSource(pod, container, path);
            expect(source, `${name}: ${variable}=${path} is not on a mount`).toBeDefined();
            if (!source) continue;
            expect(source.mount.readOnly, `${name}: ${variable}`).toBe(true);
            expect(filesOf(source.volume), `${name}: ${variable}`).toContain(source.file);
          }
        }
      }
    });

    it("sets only settings the service reads, which its configuration accepts, and secrets only as files", async () => {
      for (const workload of workloads(rendered[setup])) {
        const { container } = podOf(workload);
        const env = Object.fromEntries(envOf(container));
        const watcher = container.name === "identity-watcher";
        // The watcher reads no rules; it reads the cells file the chart renders (or the one the operator's ConfigMap holds).
        expect(env.CREDMESH_RULES_FILE).toBe(watcher ? undefined : `${MOUNT_ROOT}/rules/rules.yaml`);
        const cellsFile = (rendered[setup].find((object) => object.kind === "ConfigMap" && object.metadata.name === "credmesh-cells") as { data?: Record<string, string> } | undefined)?.data?.["cells.yaml"];
        const local = await materializeFiles(env, MOUNT_ROOT, (variable) => (variable === "CREDMESH_IDENTITY_CELLS_FILE" ? cellsFile : undefined) ?? SAMPLE_FILES[variable] ?? "placeholder file content\n");
        const resolver: (env: Record<string, string | undefined>) => unknown = container.name === "ingest" ? resolveIngestConfig : watcher ? resolveWatcherConfig : resolveReplicatorConfig;
        const { error, consulted } = resolveRecording(resolver, local);
        expect(error === undefined ? [] : ((error as { issues?: string[] }).issues ?? [(error as Error).message]), workload.metadata.name).toEqual([]);
        const unknown = Object.keys(env).filter((variable) => !consulted.has(variable));
        expect(unknown, `${workload.metadata.name} sets settings its service never reads`).toEqual([]);
        // A secret setting is never given as a value in the manifest, only as NAME_FILE (the watcher has none).
        if (!watcher) expect(secretSettings(consulted).length, workload.metadata.name).toBeGreaterThan(0);
        expect(secretsSetDirectly(resolver, local), workload.metadata.name).toEqual([]);
      }
    });
  });

  it("gives every service its own bus identity (only its role's seed mounted) and TLS to the bus", () => {
    for (const setup of ["eks", "aks"] as const) {
      for (const workload of workloads(rendered[setup])) {
        const { pod, container } = podOf(workload);
        const env = envOf(container);
        const role: BusRole =
          container.name === "ingest"
            ? { kind: "ingest" }
            : container.name === "identity-watcher"
              ? { kind: "identity-watcher" }
              : { kind: "replicator", destination: env.get("CREDMESH_DESTINATION") as "azure" | "aws", cell: env.get("CREDMESH_CELL") ?? "" };
        const seed = fileSource(pod, container, env.get("CREDMESH_NATS_NKEY_SEED_FILE") ?? "");
        // The chart names the key as @credmesh/bus-roles (and `credmesh bus-credentials`) names the file.
        expect(seed?.file, workload.metadata.name).toBe(CREDENTIAL_FILES.seed(role));
        expect(filesOf(seed?.volume ?? { name: "" }), workload.metadata.name).toEqual([CREDENTIAL_FILES.seed(role)]);
        expect(env.get("CREDMESH_NATS_URL"), workload.metadata.name).toMatch(/^tls:\/\//);
        expect(env.get("CREDMESH_NATS_PLAINTEXT"), workload.metadata.name).toBeUndefined();
        expect(fileSource(pod, container, env.get("CREDMESH_NATS_CA_FILE") ?? ""), workload.metadata.name).toBeDefined();
      }
    }
  });

  it("refuses a plaintext URL unless plaintext is chosen, and two ways to authenticate", async () => {
    await expect(renderChart([...SETUPS.eks], ["nats.url=nats://nats:4222"])).rejects.toThrow(/nats.url must use tls:\/\//);
    await expect(renderChart([...SETUPS.eks], ["nats.plaintext=true"])).rejects.toThrow(/nats.url must then use nats:\/\//);
    await expect(renderChart([...SETUPS.eks], ["nats.credentialsSecret.name=x"])).rejects.toThrow(/both set/);
    const plaintext = await renderChart([], ["nats.plaintext=true", "nats.url=nats://nats:4222"]);
    expect(envOf(podOf(byKindAndName<Workload>(plaintext, "Deployment", "credmesh-ingest")).container).get("CREDMESH_NATS_PLAINTEXT")).toBe("true");
  });

  it("renders no Secret and no secret value: secrets stay references to existing Secrets", () => {
    for (const setup of Object.keys(SETUPS) as Setup[]) {
      expect(rendered[setup].filter((object) => object.kind === "Secret"), setup).toEqual([]);
      for (const workload of workloads(rendered[setup])) {
        for (const container of workload.spec.template.spec.containers) {
          // No env var takes a value from a Secret either: every secret is a mounted file.
          expect((container.env ?? []).filter((variable) => variable.valueFrom !== undefined), workload.metadata.name).toEqual([]);
        }
      }
    }
  });

  describe("EKS: replicator-aws", () => {
    const workload = () => byKindAndName<Workload>(rendered.eks, "Deployment", "credmesh-replicator-aws");
    const values = () => parse(readFileSync(resolve(CHART_DIR, SETUPS.eks[0]), "utf8")) as { replicators: { aws: { aws: { roleArn: string }; azure: { clientId: string; tenantId: string } } } };

    it("runs as the IRSA service account annotated with its role", () => {
      const account = byKindAndName(rendered.eks, "ServiceAccount", "replicator-aws");
      expect(workload().spec.template.spec.serviceAccountName).toBe("replicator-aws");
      expect(account.metadata.annotations?.["eks.amazonaws.com/role-arn"]).toBe(values().replicators.aws.aws.roleArn);
      expect(account.metadata.annotations ?? {}).not.toHaveProperty("azure.workload.identity/client-id");
    });

    it("reads its AWS web identity token from a projection with audience sts.amazonaws.com", () => {
      const { pod, container } = podOf(workload());
      const env = envOf(container);
      expect(env.get("CREDMESH_AWS_IDENTITY")).toBe("web-identity-token-file");
      expect(env.get("CREDMESH_AWS_ROLE_ARN")).toBe(values().replicators.aws.aws.roleArn);
      const source = fileSource(pod, container, env.get("CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE") ?? "");
      const token = source?.volume.projected?.sources[0]?.serviceAccountToken;
      expect(token).toMatchObject({ audience: "sts.amazonaws.com", path: source?.file });
      expect(token?.expirationSeconds).toBeGreaterThanOrEqual(600);
    });

    it("presents a projected token with audience api://AzureADTokenExchange to Entra (client assertion)", () => {
      const { pod, container } = podOf(workload());
      const env = envOf(container);
      expect(env.get("CREDMESH_AZURE_IDENTITY")).toBe("client-assertion");
      expect(env.get("CREDMESH_AZURE_CLIENT_ID")).toBe(values().replicators.aws.azure.clientId);
      expect(env.get("CREDMESH_AZURE_TENANT_ID")).toBe(values().replicators.aws.azure.tenantId);
      const source = fileSource(pod, container, env.get("CREDMESH_AZURE_FEDERATED_TOKEN_FILE") ?? "");
      expect(source?.volume.projected?.sources[0]?.serviceAccountToken).toMatchObject({ audience: "api://AzureADTokenExchange", path: source?.file });
    });

    it("uses the service account the Terraform federation trusts", async () => {
      for (const module of ["aws", "azure"]) {
        const trusted = await readHclVariableDefault(resolve(REPO_ROOT, "deploy", "terraform", module, "variables.tf"), "replicator_aws_service_account");
        expect(trusted, module).toBe(workload().spec.template.spec.serviceAccountName);
        const namespace = await readHclVariableDefault(resolve(REPO_ROOT, "deploy", "terraform", module, "variables.tf"), "replicator_aws_namespace");
        expect(namespace, module).toBe(NAMESPACE);
      }
    });
  });

  describe("AKS: replicator-azure", () => {
    const workload = () => byKindAndName<Workload>(rendered.aks, "Deployment", "credmesh-replicator-azure");

    it("uses the service account the Terraform federated credential trusts", async () => {
      const variables = resolve(REPO_ROOT, "deploy", "terraform", "azure", "variables.tf");
      expect(await readHclVariableDefault(variables, "replicator_azure_service_account")).toBe(workload().spec.template.spec.serviceAccountName);
      expect(await readHclVariableDefault(variables, "replicator_azure_namespace")).toBe(NAMESPACE);
    });

    it("carries the Azure Workload Identity annotation and pod label", () => {
      const account = byKindAndName(rendered.aks, "ServiceAccount", "replicator-azure");
      const { container } = podOf(workload());
      expect(account.metadata.annotations?.["azure.workload.identity/client-id"]).toBe(envOf(container).get("CREDMESH_AZURE_CLIENT_ID"));
      expect(workload().spec.template.metadata.labels?.["azure.workload.identity/use"]).toBe("true");
      expect(account.metadata.annotations ?? {}).not.toHaveProperty("eks.amazonaws.com/role-arn");
    });

    it("reads Key Vault tokens through a projection with audience api://AzureADTokenExchange", () => {
      const { pod, container } = podOf(workload());
      const source = fileSource(pod, container, envOf(container).get("CREDMESH_AZURE_FEDERATED_TOKEN_FILE") ?? "");
      expect(source?.volume.projected?.sources[0]?.serviceAccountToken).toMatchObject({ audience: "api://AzureADTokenExchange" });
    });

    it("mounts the Roles Anywhere certificate, key and trust anchor read-only from existing Secrets", () => {
      const { pod, container } = podOf(workload());
      const env = envOf(container);
      expect(env.get("CREDMESH_AWS_IDENTITY")).toBe("roles-anywhere");
      for (const [variable, key] of [
        ["CREDMESH_AWS_ROLES_ANYWHERE_CERTIFICATE_FILE", "tls.crt"],
        ["CREDMESH_AWS_ROLES_ANYWHERE_PRIVATE_KEY_FILE", "tls.key"],
        ["CREDMESH_AWS_ROLES_ANYWHERE_TRUST_ANCHOR_FILE", "ca.crt"],
      ] as const) {
        const source = fileSource(pod, container, env.get(variable) ?? "");
        expect(source?.mount.readOnly, variable).toBe(true);
        expect(source?.volume.secret?.secretName, variable).toBe("credmesh-replicator-azure-tls");
        expect(source?.volume.secret?.items?.map((item) => item.key), variable).toContain(key);
      }
      // No web identity token is projected for a source that is not configured.
      expect(env.has("CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE")).toBe(false);
      expect((pod.volumes ?? []).flatMap((volume) => volume.projected?.sources ?? []).map((source) => source.serviceAccountToken?.audience)).toEqual(["api://AzureADTokenExchange"]);
    });
  });

  describe("identity-watcher", () => {
    const workload = (setup: Setup) => byKindAndName<Workload>(rendered[setup], "Deployment", "credmesh-identity-watcher");

    it("EKS: runs as its own IRSA role, with a projected token of audience sts.amazonaws.com, and a client assertion for Graph", () => {
      const account = byKindAndName(rendered.eks, "ServiceAccount", "identity-watcher");
      const { pod, container } = podOf(workload("eks"));
      const env = envOf(container);
      expect(pod.serviceAccountName).toBe("identity-watcher");
      expect(account.metadata.annotations?.["eks.amazonaws.com/role-arn"]).toBe(env.get("CREDMESH_AWS_ROLE_ARN"));
      expect(env.get("CREDMESH_AWS_ROLE_ARN")).toBe("arn:aws:iam::123456789012:role/credmesh-identity-watcher");
      const aws = fileSource(pod, container, env.get("CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE") ?? "");
      expect(aws?.volume.projected?.sources[0]?.serviceAccountToken).toMatchObject({ audience: "sts.amazonaws.com", path: aws?.file });
      const azure = fileSource(pod, container, env.get("CREDMESH_AZURE_FEDERATED_TOKEN_FILE") ?? "");
      expect(azure?.volume.projected?.sources[0]?.serviceAccountToken).toMatchObject({ audience: "api://AzureADTokenExchange", path: azure?.file });
    });

    it("AKS: Azure Workload Identity annotation and label; the cell's certificate and CA mounted read-only, never its private key", () => {
      const account = byKindAndName(rendered.aks, "ServiceAccount", "identity-watcher");
      const { pod, container } = podOf(workload("aks"));
      const env = envOf(container);
      expect(account.metadata.annotations?.["azure.workload.identity/client-id"]).toBe(env.get("CREDMESH_AZURE_CLIENT_ID"));
      expect(workload("aks").spec.template.metadata.labels?.["azure.workload.identity/use"]).toBe("true");
      expect(env.has("CREDMESH_AWS_ROLE_ARN")).toBe(false);
      for (const file of ["tls.crt", "ca.crt"]) {
        const source = fileSource(pod, container, `${MOUNT_ROOT}/cells/credmesh-replicator-azure-tls/${file}`);
        expect(source?.mount.readOnly, file).toBe(true);
        expect(source?.volume.secret?.secretName, file).toBe("credmesh-replicator-azure-tls");
      }
      const keys = (pod.volumes ?? []).flatMap((volume) => volume.secret?.items?.map((item) => item.key) ?? []);
      expect(keys.filter((key) => key.endsWith(".key"))).toEqual([]);
      // The cells file names exactly the certificate paths the pod mounts.
      const cells = parse(byKindAndName<K8sObject & { data: Record<string, string> }>(rendered.aks, "ConfigMap", "credmesh-cells").data["cells.yaml"] ?? "") as {
        cells: { certificates?: { path: string; trustAnchorFile?: string }[] }[];
      };
      for (const certificate of cells.cells.flatMap((cell) => cell.certificates ?? [])) {
        for (const path of [certificate.path, certificate.trustAnchorFile ?? certificate.path]) expect(fileSource(pod, container, path), path).toBeDefined();
      }
    });
  });

  describe("prometheus-operator objects", () => {
    it("PrometheusRule carries exactly the rule groups of the files deploy/prometheus loads", () => {
      const prometheusDir = resolve(REPO_ROOT, "deploy", "prometheus");
      const config = parse(readFileSync(resolve(prometheusDir, "prometheus.yml"), "utf8")) as { rule_files: string[] };
      const groups = config.rule_files.flatMap((file) => (parse(readFileSync(resolve(prometheusDir, file), "utf8")) as { groups: unknown[] }).groups);
      const rule = byKindAndName<K8sObject & { spec: { groups: unknown[] } }>(rendered.eks, "PrometheusRule", "credmesh");
      expect(rule.spec.groups).toEqual(groups);
      expect(groups.length).toBeGreaterThan(0);
    });

    it("prefixes runbook links with prometheusRule.runbookBaseUrl", () => {
      const rule = byKindAndName<K8sObject & { spec: { groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[] } }>(
        rendered.aks,
        "PrometheusRule",
        "credmesh",
      );
      const links = rule.spec.groups.flatMap((group) => group.rules).flatMap((entry) => (entry.alert ? [entry.annotations?.runbook_url] : []));
      expect(links.length).toBeGreaterThan(0);
      for (const link of links) expect(link).toMatch(/^https:\/\/git\.example\.com\/credmesh\/blob\/main\/docs\/runbooks\.md#[a-z0-9-]+$/);
    });

    it("ships every dashboard of deploy/grafana/dashboards for Grafana's sidecar, on the cluster's Prometheus datasource", () => {
      const dir = resolve(REPO_ROOT, "deploy", "grafana", "dashboards");
      const files = readdirSync(dir).filter((file) => file.endsWith(".json"));
      const maps = rendered.eks.filter((object) => object.kind === "ConfigMap" && object.metadata.labels?.grafana_dashboard === "1") as (K8sObject & { data: Record<string, string> })[];
      expect(maps.flatMap((map) => Object.keys(map.data)).sort()).toEqual(files.sort());
      // The same dashboard, except that every reference to compose's datasource names the cluster's.
      const onDatasource = (value: unknown, uid: string): unknown =>
        JSON.parse(JSON.stringify(value), (key, item: unknown) => (key === "uid" && item === "credmesh-prometheus" ? uid : item));
      expect(files.some((file) => readFileSync(resolve(dir, file), "utf8").includes("credmesh-prometheus"))).toBe(true);
      for (const map of maps) {
        for (const [file, content] of Object.entries(map.data)) {
          const original: unknown = JSON.parse(readFileSync(resolve(dir, file), "utf8"));
          expect(content, file).not.toContain("credmesh-prometheus");
          expect(JSON.parse(content), file).toEqual(onDatasource(original, "prometheus"));
        }
      }
    });

    it("ServiceMonitors scrape /metrics under the job names the alerts and dashboards use", () => {
      const monitors = rendered.eks.filter((object) => object.kind === "ServiceMonitor") as (K8sObject & {
        spec: { endpoints: { port: string; path: string; relabelings: { targetLabel: string; replacement: string }[] }[] };
      })[];
      const jobs = monitors.map((monitor) => monitor.spec.endpoints[0]?.relabelings.find((relabeling) => relabeling.targetLabel === "job")?.replacement).sort();
      expect(jobs).toEqual(["credmesh-identity-watcher", "credmesh-ingest", "credmesh-replicator"]);
      const scrape = parse(readFileSync(resolve(REPO_ROOT, "deploy", "prometheus", "prometheus.yml"), "utf8")) as { scrape_configs: { job_name: string }[] };
      for (const job of jobs) expect(scrape.scrape_configs.map((config) => config.job_name)).toContain(job);
      for (const monitor of monitors) expect(monitor.spec.endpoints[0]?.path).toBe("/metrics");
    });
  });

  it.each([
    [["replicators.aws.enabled=true"], /replicators\.aws\.aws\.roleArn is required/],
    [["replicators.aws.enabled=true", "replicators.aws.aws.roleArn=arn:aws:iam::123456789012:role/r"], /replicators\.aws\.azure\.tenantId is required/],
    [["replicators.azure.enabled=true", "replicators.azure.aws.roleArn=arn:aws:iam::123456789012:role/r", "replicators.azure.azure.identity={managed-identity}", "replicators.azure.aws.identity={roles-anywhere}"], /rolesAnywhere\.certificateSecret is required/],
    [["replicators.aws.enabled=true", "replicators.aws.aws.roleArn=arn:aws:iam::123456789012:role/r", "replicators.aws.aws.identity={static-keys}"], /identity\/0': value must be one of/],
    [["replicators.aws.aws.irs=true"], /additional properties 'irs' not allowed/],
    [["ingest.extraEnv[0].name=AWS_SECRET_ACCESS_KEY", "ingest.extraEnv[0].value=x"], /extraEnv\/0\/name/],
    [["ingest.eventBridge.apiKeysSecret.name="], /refuses unauthenticated webhooks/],
    [["ingest.eventGrid.auth=entra", "ingest.eventGrid.tenantId=t"], /ingest\.eventGrid\.audiences is required/],
    [["identityWatcher.enabled=true", "identityWatcher.cells.inline.cells[0].id=c1", "identityWatcher.cells.inline.cells[0].aws.roleArn=arn:aws:iam::123456789012:role/r"], /identityWatcher\.aws\.roleArn is required: cell c1/],
    [["identityWatcher.enabled=true", "identityWatcher.certificateSecrets[0].name=tls", "identityWatcher.certificateSecrets[0].keys={tls.key}"], /looks like a private key/],
    [["identityWatcher.enabled=true", "identityWatcher.azure.identity={client-assertion}"], /identityWatcher\.azure\.tenantId is required/],
  ])("refuses incomplete values with a message naming the setting (%j)", async (sets, message) => {
    await expect(renderChart([], sets)).rejects.toThrow(message);
  });
});

/** File contents the services' configuration validates at boot (everything else is a placeholder). */
const SAMPLE_FILES: Readonly<Record<string, string>> = {
  CREDMESH_RULES_FILE: [
    "rules:",
    "  - id: to-azure",
    '    source: { cloud: aws, accounts: ["123456789012"], regions: ["us-east-1"], namePrefixes: ["prod/"] }',
    "    destination: { cloud: azure, vaultUrl: https://payments-kv.vault.azure.net }",
    "",
  ].join("\n"),
  CREDMESH_CONTENT_HASH_KEY_FILE: "a-content-hash-key-of-more-than-32-characters\n",
  CREDMESH_EVENTBRIDGE_API_KEYS_FILE: "an-eventbridge-api-key-for-the-test\n",
  CREDMESH_EVENTGRID_SHARED_KEYS_FILE: "an-event-grid-shared-key-of-at-least-32-characters\n",
};
