import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Paths of the third-party parts installed by scripts/provision.sh (its env.json). Nothing here
 * downloads anything: if a part is missing, the message says how to install it.
 */
export interface Tools {
  node: string;
  natsServer: string;
  natsCli: string;
  motoServer: string;
  prometheus: string | null;
  promtool: string | null;
  java: string | null;
  lowkeyVaultJar: string | null;
  /** Compose v5 (`docker-compose config` validates without an engine). */
  dockerCompose?: string | null;
  /** Helm v4 (lint and template of deploy/helm). */
  helm?: string | null;
  /** OpenTofu (`tofu fmt -check` of deploy/terraform). */
  tofu?: string | null;
}

/** Where scripts/provision.sh installs the parts (`CREDMESH_TOOLS_DIR`, else ~/.cache/credmesh/tools). */
export function toolsDir(): string {
  return process.env.CREDMESH_TOOLS_DIR ?? join(homedir(), ".cache", "credmesh", "tools");
}

let cached: Tools | undefined;

/** The provisioned parts, read once from env.json. */
export function loadTools(): Tools {
  if (cached) return cached;
  const file = join(toolsDir(), "env.json");
  try {
    cached = JSON.parse(readFileSync(file, "utf8")) as Tools;
  } catch {
    throw new Error(`${file} not found: run scripts/provision.sh first (scripts/credmesh and scripts/test.sh do)`);
  }
  return cached;
}

/** The path of a provisioned tool, or an error that says how to install it. */
export function requireTool(name: "dockerCompose" | "helm" | "tofu" | "promtool" | "natsServer" | "prometheus"): string {
  const path = loadTools()[name];
  if (!path) throw new Error(`${name} is not provisioned: run scripts/provision.sh (it writes ${join(toolsDir(), "env.json")})`);
  return path;
}
