import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "@cdktf/hcl2json";

/** One Terraform root module as HCL's JSON form (hcl2json), all its .tf files merged. */
export interface TerraformModule {
  dir: string;
  /** `resource.<type>.<name>` → its blocks (hcl2json keeps each block as a one-element list). */
  resource: Record<string, Record<string, Record<string, unknown>[]>>;
  data: Record<string, Record<string, Record<string, unknown>[]>>;
  variable: Record<string, Record<string, unknown>[]>;
  locals: Record<string, unknown>;
  output: Record<string, Record<string, unknown>[]>;
  /** The raw text of every file, by file name (for checks over the whole source). */
  files: Record<string, string>;
}

/** Parses every .tf file of a module with the HCL parser of @cdktf/hcl2json. */
export async function readTerraformModule(dir: string): Promise<TerraformModule> {
  const module: TerraformModule = { dir, resource: {}, data: {}, variable: {}, locals: {}, output: {}, files: {} };
  for (const name of (await readdir(dir)).filter((file) => file.endsWith(".tf")).sort()) {
    const text = await readFile(join(dir, name), "utf8");
    module.files[name] = text;
    const json = (await parse(name, text)) as Record<string, unknown>;
    for (const kind of ["resource", "data"] as const) {
      for (const [type, blocks] of Object.entries((json[kind] ?? {}) as Record<string, Record<string, Record<string, unknown>[]>>)) {
        module[kind][type] = { ...module[kind][type], ...blocks };
      }
    }
    Object.assign(module.variable, json.variable ?? {});
    Object.assign(module.output, json.output ?? {});
    for (const locals of (json.locals ?? []) as Record<string, unknown>[]) Object.assign(module.locals, locals);
  }
  return module;
}

/** The default of a variable in one variables.tf. */
export async function readHclVariableDefault(file: string, name: string): Promise<unknown> {
  const json = (await parse(file, await readFile(file, "utf8"))) as { variable?: Record<string, { default?: unknown }[]> };
  const block = json.variable?.[name]?.[0];
  if (!block) throw new Error(`variable ${name} not found in ${file}`);
  return block.default;
}

/** The single block of `resource`/`data` `type.name`. */
export function block(blocks: Record<string, Record<string, Record<string, unknown>[]>>, type: string, name: string): Record<string, unknown> {
  const found = blocks[type]?.[name]?.[0];
  if (!found) throw new Error(`${type}.${name} not found`);
  return found;
}

const LOCAL_REFERENCE = /^\$\{local\.([A-Za-z0-9_]+)\}$/;
const JSONENCODE_LOCAL = /^\$\{jsonencode\(local\.([A-Za-z0-9_]+)\)\}$/;

/**
 * Evaluates the few expression forms the checks rely on: `local.<name>` and
 * `jsonencode(local.<name>)`, recursively through the locals. Anything else is refused, so a
 * check never passes over an expression it could not read.
 */
export function evaluate(module: TerraformModule, value: unknown): unknown {
  if (typeof value === "string") {
    const local = LOCAL_REFERENCE.exec(value) ?? JSONENCODE_LOCAL.exec(value);
    if (local?.[1] !== undefined) {
      if (!(local[1] in module.locals)) throw new Error(`local.${local[1]} is not defined in ${module.dir}`);
      return evaluate(module, module.locals[local[1]]);
    }
    if (value.includes("${")) throw new Error(`cannot evaluate ${value} (only local.<name> and jsonencode(local.<name>) are read)`);
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => evaluate(module, item));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, evaluate(module, item)]));
  }
  return value;
}

/** A statement of an aws_iam_policy_document (HCL form). */
export interface PolicyStatement {
  sid?: string;
  effect?: string;
  actions?: string[];
  resources?: string[];
  principals?: { type: string; identifiers: string[] }[];
  condition?: { test: string; variable: string; values: string[] }[];
}

/** Every statement of `data.aws_iam_policy_document.<name>`, dynamic blocks' content included. */
export function statementsOf(module: TerraformModule, name: string): PolicyStatement[] {
  const document = block(module.data, "aws_iam_policy_document", name);
  const plain = (document.statement ?? []) as PolicyStatement[];
  // hcl2json gives `dynamic` as one object (or a list of them) keyed by block type.
  const dynamic = [document.dynamic ?? []].flat().flatMap((entry) =>
    ((entry as { statement?: { content?: PolicyStatement[] }[] }).statement ?? []).flatMap((statement) => statement.content ?? []),
  );
  return [...plain, ...dynamic];
}
