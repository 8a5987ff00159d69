import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import type { K8sObject } from "./helm-chart.ts";

interface Validating {
  validate(): void;
}

/**
 * The Kubernetes API schemas (kubernetes-models: the OpenAPI schemas of the Kubernetes API and of
 * prometheus-operator's CRDs, compiled to validators) of every kind the chart may render, by
 * apiVersion and kind. A kind missing here fails validation: the table grows with the chart.
 */
const MODELS: Readonly<Record<string, new (data: never) => Validating>> = {
  "apps/v1/Deployment": Deployment,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
};

/**
 * The TypeScript interfaces kubernetes-models declares for the same kinds (module, interface).
 * The compiled schemas above accept unknown fields; TypeScript's excess-property check on an object
 * literal does not, at any depth, as the API server's strict field validation does not.
 */
const TYPES: Readonly<Record<string, readonly [string, string]>> = {
  "apps/v1/Deployment": ["kubernetes-models/apps/v1/Deployment", "IDeployment"],
  "autoscaling/v2/HorizontalPodAutoscaler": ["kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler", "IHorizontalPodAutoscaler"],
  "policy/v1/PodDisruptionBudget": ["kubernetes-models/policy/v1/PodDisruptionBudget", "IPodDisruptionBudget"],
  "v1/ConfigMap": ["kubernetes-models/v1/ConfigMap", "IConfigMap"],
  "v1/Service": ["kubernetes-models/v1/Service", "IService"],
  "v1/ServiceAccount": ["kubernetes-models/v1/ServiceAccount", "IServiceAccount"],
  "monitoring.coreos.com/v1/ServiceMonitor": ["@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor", "IServiceMonitor"],
  "monitoring.coreos.com/v1/PrometheusRule": ["@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule", "IPrometheusRule"],
};

/**
 * Fields the Kubernetes API does not know (a misspelt key, a field at the wrong level), found by
 * type-checking every object as an object literal of its kubernetes-models interface.
 */
export function unknownFieldProblems(objects: K8sObject[]): string[] {
  const file = join(dirname(fileURLToPath(import.meta.url)), "__rendered-objects__.ts");
  const imports: string[] = [];
  const declarations: string[] = [];
  const problems: string[] = [];
  const lines: { first: number; name: string }[] = [];
  let line = 0;
  objects.forEach((object, index) => {
    const type = TYPES[`${object.apiVersion}/${object.kind}`];
    if (!type) {
      problems.push(`no API type known for ${object.apiVersion} ${object.kind}`);
      return;
    }
    imports.push(`import type { ${type[1]} as T${index} } from "${type[0]}";`);
    const literal = `export const o${index}: T${index} = ${JSON.stringify(object, null, 1)};`;
    lines.push({ first: line, name: `${object.kind}/${object.metadata.name}` });
    declarations.push(literal);
    line += literal.split("\n").length;
  });
  const text = `${declarations.join("\n")}\n${imports.join("\n")}\n`;
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === file ? ts.createSourceFile(name, text, language) : getSourceFile(name, language, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const source = program.getSourceFile(file);
  for (const diagnostic of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
    const at = diagnostic.start === undefined || !source ? 0 : source.getLineAndCharacterOfPosition(diagnostic.start).line;
    const owner = [...lines].reverse().find((entry) => entry.first <= at)?.name ?? "imports";
    problems.push(`${owner}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, " ")}`);
  }
  return problems;
}

/** Problems of one object against its API schema (types, required fields, enums, formats); empty when valid. */
export function schemaProblems(object: K8sObject): string[] {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) return [`no API schema known for ${object.apiVersion} ${object.kind}`];
  try {
    new Model(object as never).validate();
    return [];
  } catch (error) {
    return [`${object.kind}/${object.metadata.name}: ${(error as Error).message}`];
  }
}
