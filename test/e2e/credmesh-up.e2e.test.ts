import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/services.ts";
import { loadTools } from "../support/tools.ts";

/** The README's quick start: `credmesh up` brings the mesh up and shows a secret replicating. */
describe("credmesh up", () => {
  it("runs the local mesh and shows a secret created in AWS readable in Azure", async () => {
    const child = spawn(loadTools().node, ["scripts/up.ts", "--once"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(output).toContain("→ HTTP 202");
    expect(output).toContain("replicator decision: applied");
    expect(output).toContain("value matches the AWS value");
    expect(output).toMatch(/managed-by=credmesh, credmesh-origin=aws/);
    expect(code).toBe(0);
  });
});
