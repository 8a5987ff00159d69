import { spawn } from "node:child_process";
import { REPO_ROOT } from "./services.ts";
import { loadTools } from "./tools.ts";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real operator CLI as an operator would (`node services/cli/src/main.ts <args>`, what
 * `scripts/credmesh <command>` executes), in a clean environment plus `env`.
 */
export function runCredmesh(args: readonly string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliRun> {
  const child = spawn(loadTools().node, ["services/cli/src/main.ts", ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI with `--json` and parses its stdout; fails with the CLI's stderr otherwise. */
export async function runCredmeshJson<T>(args: readonly string[], options: { env?: Record<string, string>; expectCode?: number } = {}): Promise<T> {
  const run = await runCredmesh([...args, "--json"], options);
  if (run.code !== (options.expectCode ?? 0)) throw new Error(`credmesh ${args.join(" ")} exited ${run.code}\n${run.stderr}\n${run.stdout}`);
  return JSON.parse(run.stdout) as T;
}
