import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT } from "../../support/services.ts";
import { requireTool } from "../../support/tools.ts";

const run = promisify(execFile);

export const CHART_DIR = resolve(REPO_ROOT, "deploy", "helm", "credmesh");
export const NAMESPACE = "credmesh";

/** A rendered Kubernetes object; the tests read it structurally. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}
export interface Container {
  name: string;
  env?: EnvVar[];
  volumeMounts?: VolumeMount[];
  ports?: { name: string; containerPort: number }[];
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[]; add?: string[] } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  startupProbe?: { httpGet?: { path: string; port: string | number } };
}
export interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  configMap?: { name: string; items?: { key: string; path: string }[] };
  projected?: { sources: { serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string } }[] };
  emptyDir?: Record<string, unknown>;
}
export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown> & { seccompProfile?: { type: string } };
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
}
export interface Workload extends K8sObject {
  spec: { template: { metadata: { labels?: Record<string, string> }; spec: PodSpec } };
}

/** `helm <args>` with the provisioned Helm; stderr (symlink notices) is returned, not printed. */
export async function helm(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(requireTool("helm"), args, { cwd: REPO_ROOT, maxBuffer: 32 * 1024 * 1024 });
}

/** `helm template` of the chart with values files (relative to the chart) and --set pairs. */
export async function renderChart(valuesFiles: string[] = [], sets: string[] = []): Promise<K8sObject[]> {
  const args = ["template", "credmesh", CHART_DIR, "--namespace", NAMESPACE];
  for (const file of valuesFiles) args.push("--values", resolve(CHART_DIR, file));
  for (const set of sets) args.push("--set", set);
  const { stdout } = await helm(args);
  return parseManifests(stdout);
}

/** Parses a multi-document manifest stream; a document that does not parse fails the test. */
export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(`rendered YAML does not parse: ${document.errors.map(String).join("; ")}`);
    const value: unknown = document.toJS();
    if (value === null || value === undefined) continue;
    objects.push(value as K8sObject);
  }
  return objects;
}

export function workloads(objects: K8sObject[]): Workload[] {
  return objects.filter((object): object is Workload => object.kind === "Deployment");
}

/** A workload's pod spec and its (only) container. */
export function podOf(workload: Workload): { pod: PodSpec; container: Container } {
  const pod = workload.spec.template.spec;
  const [container, ...more] = pod.containers;
  if (!container || more.length > 0) throw new Error(`${workload.metadata.name}: expected one container, found ${pod.containers.length}`);
  return { pod, container };
}

export function byKindAndName<T extends K8sObject = K8sObject>(objects: K8sObject[], kind: string, name: string): T {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((object) => `${object.kind}/${object.metadata.name}`).join(", ")}`);
  return found as T;
}

export function envOf(container: Container): Map<string, string> {
  return new Map((container.env ?? []).map((variable) => [variable.name, variable.value ?? ""]));
}

/**
 * The volume and key behind a file path the container reads (an env value), or undefined when no
 * mount of the container contains the path.
 */
export function fileSource(pod: PodSpec, container: Container, path: string): { volume: Volume; mount: VolumeMount; file: string } | undefined {
  for (const mount of container.volumeMounts ?? []) {
    if (!path.startsWith(`${mount.mountPath}/`)) continue;
    const volume = (pod.volumes ?? []).find((candidate) => candidate.name === mount.name);
    if (!volume) return undefined;
    return { volume, mount, file: path.slice(mount.mountPath.length + 1) };
  }
  return undefined;
}

/** The files a volume provides (item paths of Secrets and ConfigMaps, projected token paths). */
export function filesOf(volume: Volume): string[] {
  if (volume.secret) return (volume.secret.items ?? []).map((item) => item.path);
  if (volume.configMap) return (volume.configMap.items ?? []).map((item) => item.path);
  if (volume.projected) return volume.projected.sources.flatMap((source) => (source.serviceAccountToken ? [source.serviceAccountToken.path] : []));
  return [];
}
