import { fileURLToPath } from "node:url";
import { ManagedProcess } from "./managed-process.ts";
import { loadTools } from "./tools.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Starts a credmesh service exactly as an operator would: `node services/<name>/src/main.ts`
 * with configuration in the environment, listening on real sockets.
 */
export async function startService(name: "ingest" | "replicator" | "identity-watcher", env: Record<string, string>, ready: RegExp): Promise<ManagedProcess> {
  const tools = loadTools();
  const child = new ManagedProcess(name, tools.node, [`services/${name}/src/main.ts`], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
  });
  await child.waitForLine(ready, 30_000);
  return child;
}
