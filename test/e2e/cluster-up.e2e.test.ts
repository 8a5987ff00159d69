/**
 * `credmesh up --cluster`: the local mesh on a 3-node JetStream cluster, as production runs the bus
 * (issue 12 item 1). `--once` returns only once every service answers /readyz 200 — which includes
 * every stream and bucket present with three replicas (a service on an R1 stream is not ready).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/services.ts";

describe("credmesh up --cluster", () => {
  it("runs the local mesh on three NATS nodes, every service ready on R3 streams and buckets", async () => {
    const stateDir = await mkdtemp(join(tmpdir(), "credmesh-up-cluster-"));
    try {
      const child = spawn(join(REPO_ROOT, "scripts", "credmesh"), ["up", "--once", "--any-ports", "--cluster", "--state-dir", stateDir], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      for (const stream of [child.stdout, child.stderr]) stream.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const timer = setTimeout(() => child.kill("SIGINT"), 150_000);
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      clearTimeout(timer);
      expect(code, output).toBe(0);
      for (const node of ["n1", "n2", "n3"]) expect(output).toMatch(new RegExp(`nats-${node} +nats://127\\.0\\.0\\.1:\\d+ +\\d+ +.*cluster node ${node}`));
      expect(output).toMatch(/--server nats:\/\/127\.0\.0\.1:\d+,nats:\/\/127\.0\.0\.1:\d+,nats:\/\/127\.0\.0\.1:\d+ /);
      expect(output).toContain("every part is ready; --once: stopping");
      expect(output).toContain("stopped");
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  }, 180_000);
});
