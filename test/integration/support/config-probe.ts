import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Runs a service's own configuration resolver (e.g. resolveReplicatorConfig) over `env` and
 * records every variable name it consults. A variable that a deployment sets and the resolver
 * never reads is a setting that does not exist; `NAME` consulted together with `NAME_FILE` marks a
 * secret setting (EnvReader reads secrets from either).
 */
export function resolveRecording<T>(resolver: (env: Env) => T, env: Record<string, string>): { config?: T; error?: unknown; consulted: Set<string> } {
  const consulted = new Set<string>();
  const recording = new Proxy(env, {
    get(target, key) {
      if (typeof key === "string") consulted.add(key);
      return Reflect.get(target, key) as unknown;
    },
  });
  try {
    return { config: resolver(recording), consulted };
  } catch (error) {
    return { error, consulted };
  }
}

/** The settings read as secrets in one resolution (`NAME` and `NAME_FILE` both consulted). */
export function secretSettings(consulted: Set<string>): string[] {
  return [...consulted].filter((name) => consulted.has(`${name}_FILE`));
}

/**
 * The variables of `env` that the resolver reads as secrets: without the variable, the resolver
 * looks for `<variable>_FILE` instead (a secret given directly is never looked up as a file, so
 * each variable is probed on its own).
 */
export function secretsSetDirectly<T>(resolver: (env: Env) => T, env: Record<string, string>): string[] {
  return Object.keys(env).filter((name) => {
    const { [name]: _omitted, ...without } = env;
    return resolveRecording(resolver, without).consulted.has(`${name}_FILE`);
  });
}

/**
 * Moves every file path of `env` under `mountRoot` into a scratch directory and writes the files
 * there (`contents(name)` gives each file's text), so a resolver that reads files at boot finds
 * them as it would in the pod.
 */
export async function materializeFiles(env: Record<string, string>, mountRoot: string, contents: (variable: string, path: string) => string): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), "credmesh-pod-files-"));
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!value.startsWith(`${mountRoot}/`)) {
      out[name] = value;
      continue;
    }
    const local = join(dir, value.slice(mountRoot.length + 1));
    await mkdir(dirname(local), { recursive: true });
    await writeFile(local, contents(name, value));
    out[name] = local;
  }
  return out;
}
