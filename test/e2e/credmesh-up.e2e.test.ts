import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { runCredmesh } from "../support/credmesh-cli.ts";
import { keyVaultClientFor } from "../support/keyvault-client.ts";
import { REPO_ROOT } from "../support/services.ts";

/** A `scripts/credmesh up` run as a developer starts it, read through its screen. */
class UpRun {
  readonly child: ChildProcess;
  output = "";
  readonly exited: Promise<number | null>;
  readonly #waiters: Array<{ pattern: RegExp; resolve: (match: RegExpMatchArray) => void }> = [];

  constructor(args: string[]) {
    this.child = spawn(join(REPO_ROOT, "scripts", "credmesh"), ["up", ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream?.on("data", (chunk: Buffer) => {
        this.output += chunk.toString();
        for (const waiter of [...this.#waiters]) {
          const match = this.output.match(waiter.pattern);
          if (match) {
            this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
            waiter.resolve(match);
          }
        }
      });
    }
    this.exited = new Promise((resolve) => this.child.once("exit", resolve));
  }

  /** The first match of `pattern` in the output so far or to come (bounded; a hang fails with the output). */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const seen = this.output.match(pattern);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${this.output}`)), timeoutMs);
      this.#waiters.push({
        pattern,
        resolve: (match) => {
          clearTimeout(timer);
          resolve(match);
        },
      });
    });
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** Generous bound on one replication through the change feed (anti-entropy every 10 s); the measured latency is printed. */
const CHANGE_FEED_BOUND_MS = 60_000;

/**
 * The README's quick start, as a new user lives it: `scripts/credmesh up`, then a secret created with
 * the AWS SDK against the local AWS appears in the local Key Vault, and one created with the Azure
 * SDK in the local Key Vault appears in the local AWS — no hand-written event — each within the
 * change feed's latency (measured). A second `up` says one runs; Ctrl-C stops every part.
 */
describe("credmesh up", () => {
  let stateDir: string;
  let run: UpRun;
  let screen: string;
  let secretsManager: SecretsManagerClient;
  let keyVault: SecretClient;
  const latencies: Record<string, number> = {};

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "credmesh-up-e2e-"));
    run = new UpRun(["--any-ports", "--state-dir", stateDir]);
    await run.waitFor(/Replications \(live/, 170_000);
    screen = run.output;
    const moto = screen.match(/^moto +(http:\/\/127\.0\.0\.1:\d+) /m)?.[1] ?? "";
    secretsManager = new SecretsManagerClient({ region: "us-east-1", endpoint: moto, credentials: { accessKeyId: "local", secretAccessKey: "local" } });
    const [, vaultUrl = "", caFile = ""] = screen.match(/vault URL (https:\/\/127\.0\.0\.1:\d+), trusting (\S+),/) ?? [];
    const imds = screen.match(/managed-identity endpoint (\S+):/)?.[1] ?? "";
    keyVault = keyVaultClientFor(vaultUrl, imds, caFile);
  }, 180_000);

  afterAll(async () => {
    secretsManager?.destroy();
    if (run && run.child.exitCode === null) {
      run.child.kill("SIGINT");
      await run.exited;
    }
    await rm(stateDir, { recursive: true, force: true });
    process.stdout.write(`credmesh up change feed latency: ${JSON.stringify(latencies)}\n`);
  });

  it("shows what runs where: every part with its address, both directions, Prometheus and the audit tap", () => {
    for (const part of ["nats", "moto", "keyvault", "ingest", "replicator-azure", "replicator-aws", "identity-watcher", "prometheus"]) {
      expect(screen, part).toMatch(new RegExp(`^${part} +(nats|https?)://127\\.0\\.0\\.1:\\d+ +\\d+ `, "m"));
    }
    expect(screen).toMatch(/^replicator-azure .* AWS → Azure$/m);
    expect(screen).toMatch(/^replicator-aws .* Azure → AWS$/m);
    expect(screen).toMatch(/audit tap {3}nats --server nats:\/\/127\.0\.0\.1:\d+ --nkey \S+\/auditor\.nk --inbox-prefix _INBOX\.auditor sub 'credmesh\.audit\.>'/);
    expect(screen).toContain("anti-entropy every 10 s as the change feed");
  });

  it("the bus admits only the run's identities: the operator command the screen prints works, a client without an identity is refused", async () => {
    const [, server = "", seed = ""] = screen.match(/^status {6}CREDMESH_NATS_PLAINTEXT=true scripts\/credmesh status --server (\S+) --nkey (\S+)$/m) ?? [];
    const status = await runCredmesh(["status", "--server", server, "--nkey", seed], { env: { CREDMESH_NATS_PLAINTEXT: "true" } });
    expect(status.code, `${status.stdout}\n${status.stderr}`).toBe(0);
    expect(status.stdout).toContain("CONSUMER");
    await expect(connect({ servers: server, reconnect: false, timeout: 5_000 })).rejects.toThrow(/Authorization Violation/i);
  });

  it("a second up while one runs says so, naming the running one's pid", async () => {
    const second = new UpRun(["--any-ports", "--state-dir", stateDir]);
    expect(await second.exited).toBe(1);
    expect(second.output).toContain(`credmesh up is already running (pid ${run.child.pid}`);
  });

  it("a secret created with the AWS SDK in the local AWS appears in the local Key Vault, without an event", async () => {
    const name = `prod/up-e2e/${randomBytes(4).toString("hex")}`;
    const value = randomBytes(24).toString("base64url");
    await secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    const started = Date.now();
    // Found by anti-entropy (a `reconciled` finding "missing"), then applied: no EventBridge event was involved.
    const [, replica = ""] = await run.waitFor(
      new RegExp(`reconciled +aws → azure  ${escape(name)} → (\\S+)  \\(local-aws-to-azure, missing\\)\\n[\\s\\S]*?applied +aws → azure  ${escape(name)} → \\1  \\(local-aws-to-azure\\)\\n`),
      CHANGE_FEED_BOUND_MS,
    );
    latencies.awsToAzureMs = Date.now() - started;
    const secret = await keyVault.getSecret(replica);
    expect(secret.value === value).toBe(true);
    expect(secret.properties.tags).toMatchObject({ "managed-by": "credmesh", "credmesh-origin": "aws", "credmesh-origin-name": name });
  });

  it("a secret created with the Azure SDK in the local Key Vault appears in the local AWS, without an event", async () => {
    const name = `prod-up-e2e-${randomBytes(4).toString("hex")}`;
    const value = randomBytes(24).toString("base64url");
    await keyVault.setSecret(name, value);
    const started = Date.now();
    await run.waitFor(
      new RegExp(`reconciled +azure → aws  keyvault/${name} → ${name}  \\(local-azure-to-aws, missing\\)\\n[\\s\\S]*?applied +azure → aws  keyvault/${name} → ${name}  \\(local-azure-to-aws\\)\\n`),
      CHANGE_FEED_BOUND_MS,
    );
    latencies.azureToAwsMs = Date.now() - started;
    const secret = await secretsManager.send(new GetSecretValueCommand({ SecretId: name }));
    expect(secret.SecretString === value).toBe(true);
  });

  it("Ctrl-C stops every part and frees the lock", async () => {
    const pids = [...screen.matchAll(/^[a-z-]+ +(?:nats|https?):\/\/127\.0\.0\.1:\d+ +(\d+) /gm)].map((match) => Number(match[1]));
    expect(pids).toHaveLength(8);
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
    expect(run.output).toMatch(/stopping every part …\nstopped\n/);
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
    expect(existsSync(join(stateDir, "up.lock"))).toBe(false);
  });
});
