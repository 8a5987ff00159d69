import { REPO_ROOT, loadTools, startCredmeshService, type ManagedProcess } from "@credmesh/local-mesh";

export { REPO_ROOT };

/**
 * Starts a credmesh service exactly as an operator would — `node services/<name>/src/main.ts` with
 * configuration in the environment — through the local mesh's starter (@credmesh/local-mesh), the
 * same one `credmesh up` uses. `ready` is the line that says it is up.
 */
export async function startService(name: "ingest" | "replicator" | "identity-watcher", env: Record<string, string>, ready?: RegExp): Promise<ManagedProcess> {
  return startCredmeshService(loadTools().node, name, env, ready === undefined ? {} : { ready });
}
