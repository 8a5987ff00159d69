import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Where the third-party parts run: as testcontainers when a Docker engine answers, as local
 * processes otherwise (this machine kind has the docker client but no engine). Forced with
 * CREDMESH_TEST_RUNTIME=containers|processes.
 */
export type PartsRuntime = "containers" | "processes";

let decided: Promise<PartsRuntime> | undefined;

export function partsRuntime(): Promise<PartsRuntime> {
  decided ??= (async () => {
    const forced = process.env.CREDMESH_TEST_RUNTIME;
    if (forced === "containers" || forced === "processes") return forced;
    try {
      await run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeout: 5_000 });
      return "containers";
    } catch {
      return "processes";
    }
  })();
  return decided;
}

/** Images used in container mode, pinned to the versions provisioned for process mode. */
export const IMAGES = {
  nats: "nats:2.12.1-alpine",
  moto: "motoserver/moto:5.1.1",
} as const;
