import { mkdir } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { decodeAuditRecord, decodeQuarantineAuditRecord } from "@credmesh/events";
import {
  LOCAL_AWS_REGION,
  PortsInUseError,
  acquireLock,
  loadTools,
  localRules,
  startLocalMesh,
  type LocalMesh,
} from "@credmesh/local-mesh";
import { connectionOptions } from "@credmesh/bus";
import { inboxPrefixOf, type BusRole } from "@credmesh/bus-roles";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Command } from "../args.ts";
import type { Io } from "../output.ts";
import { formatAuditLine, formatQuarantineLine, renderUpScreen } from "../up/screen.ts";

type UpCommand = Extract<Command, { name: "up" }>;

const AUDITOR: BusRole = { kind: "auditor" };

/** How long `up` waits for every part to be ready (a first start on a loaded 2-core machine). */
const READY_TIMEOUT_MS = 120_000;

/**
 * `credmesh up`: the local mesh a developer lives in (README "Quick start"). Holds the lock file
 * while it runs; stops every part on SIGINT/SIGTERM (or at once with --once, after checking that
 * every part is ready). `signals` is the process in main.ts; tests pass their own emitter.
 * @see ../../../../shared/SPEC.md section 2 (CLI credmesh up)
 */
export async function up(command: UpCommand, io: Io, env: NodeJS.ProcessEnv, signals: Pick<NodeJS.Process, "once" | "off"> = process): Promise<0 | 1> {
  const stateDir = resolve(command.stateDir ?? env.CREDMESH_UP_DIR ?? join(homedir(), ".cache", "credmesh", "up"));
  await mkdir(stateDir, { recursive: true });
  const taken = await acquireLock(join(stateDir, "up.lock"));
  if (!taken.acquired) {
    const { holder } = taken;
    const where = Object.entries(holder.endpoints ?? {}).map(([part, address]) => `${part} ${address}`);
    io.err(`credmesh up is already running (pid ${holder.pid}, since ${holder.startedAt}; lock ${join(stateDir, "up.lock")}).`);
    if (where.length > 0) io.err(`  it serves: ${where.join(", ")}`);
    io.err("  Use it, or stop it with Ctrl-C in its terminal; a second mesh needs its own --state-dir and --any-ports.");
    return 1;
  }
  const { lock } = taken;
  let mesh: LocalMesh | undefined;
  let nc: NatsConnection | undefined;
  // From here on Ctrl-C stops what started (the parts run in process groups of their own, so the
  // terminal's signal does not reach them): during the start it is remembered and honoured after.
  const stop = stopSignal(signals);
  try {
    io.out(`starting the local mesh (logs: ${join(stateDir, "run", "logs")}) …`);
    try {
      mesh = await startLocalMesh({ tools: loadTools(), runDir: join(stateDir, "run"), ports: command.ports, ownProcessGroups: true, ...(command.cluster ? { cluster: {} } : {}) });
    } catch (error) {
      if (error instanceof PortsInUseError) {
        io.err(`credmesh up: ${error.message} — another credmesh up, docker compose or another program holds them; stop it, or run with --any-ports`);
        return 1;
      }
      throw error;
    }
    const running = mesh;
    await lock.update(Object.fromEntries(running.parts.map((part) => [part.name, part.address])));
    if (stop.requested) return 0;
    await running.waitReady(READY_TIMEOUT_MS);
    if (stop.requested) return 0;
    io.out(
      renderUpScreen({
        parts: running.parts,
        natsUrl: running.natsUrl,
        auditorSeedFile: running.seedFile({ kind: "auditor" }),
        operatorSeedFile: running.seedFile({ kind: "operator" }),
        natsMonitorUrl: running.natsMonitorUrl,
        awsEndpoint: running.awsEndpoint,
        awsRegion: LOCAL_AWS_REGION,
        vaultUrl: running.vaultUrl,
        imdsEndpoint: running.imdsEndpoint,
        azureCaFile: running.azureCaFile,
        prometheusUrl: running.prometheusUrl,
        reconcileIntervalSeconds: running.reconcileIntervalSeconds,
        rules: localRules(running.vaultUrl).rules.map((rule) => describeRule(rule)),
        keysFile: running.keysFile,
        logDir: running.logDir,
      }),
    );
    if (command.once) {
      io.out("every part is ready; --once: stopping");
      return 0;
    }
    // The live feed reads the audit trail as the auditor does: read-only, on its own inbox.
    nc = await connect({ ...connectionOptions({ servers: running.natsUrl.split(","), auth: { kind: "nkey", seedFile: running.seedFile(AUDITOR) }, inboxPrefix: inboxPrefixOf(AUDITOR) }), name: "credmesh-up" });
    nc.subscribe("credmesh.audit.>", {
      callback: (error, msg) => {
        if (error) return;
        try {
          const data = msg.data;
          io.out(msg.subject.startsWith("credmesh.audit.quarantine.") ? formatQuarantineLine(decodeQuarantineAuditRecord(data)) : formatAuditLine(decodeAuditRecord(data)));
        } catch {
          io.out(`  (a record on ${msg.subject} that does not decode; \`nats sub\` shows it)`);
        }
      },
    });
    return await untilStopped(running, io, stop);
  } finally {
    stop.dispose();
    await nc?.close().catch(() => undefined);
    if (mesh) {
      io.out("stopping every part …");
      await mesh.stop();
      io.out("stopped");
    }
    await lock.release();
  }
}

interface StopSignal {
  /** A SIGINT or SIGTERM arrived. */
  readonly requested: boolean;
  /** Resolves at the first SIGINT or SIGTERM (at once if one already arrived). */
  readonly arrived: Promise<void>;
  dispose(): void;
}

function stopSignal(signals: Pick<NodeJS.Process, "once" | "off">): StopSignal {
  let requested = false;
  let resolveArrived: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => (resolveArrived = resolve));
  const onSignal = () => {
    requested = true;
    resolveArrived();
  };
  signals.once("SIGINT", onSignal);
  signals.once("SIGTERM", onSignal);
  return {
    get requested() {
      return requested;
    },
    arrived,
    dispose() {
      signals.off("SIGINT", onSignal);
      signals.off("SIGTERM", onSignal);
    },
  };
}

/** Resolves 0 on SIGINT/SIGTERM, 1 when a part exits by itself (its last lines are shown). */
async function untilStopped(mesh: LocalMesh, io: Io, stop: StopSignal): Promise<0 | 1> {
  return new Promise((resolveStop) => {
    let done = false;
    const finish = (code: 0 | 1) => {
      if (done) return;
      done = true;
      resolveStop(code);
    };
    void stop.arrived.then(() => finish(0));
    for (const part of mesh.parts) {
      void part.process.exited.then((code) => {
        if (done) return;
        io.err(`${part.name} exited (${code}) on its own; its last lines:\n${part.process.tail(15)}`);
        finish(1);
      });
    }
  });
}

function describeRule(rule: ReturnType<typeof localRules>["rules"][number]): { id: string; from: string; to: string } {
  const source = rule.source as { cloud: string; namePrefixes: string[] };
  const destination = rule.destination as { cloud: string };
  const name = (cloud: string) => (cloud === "aws" ? "AWS Secrets Manager" : "Key Vault");
  return { id: rule.id, from: `${name(source.cloud)} ${source.namePrefixes.map((prefix) => `${prefix}*`).join(", ")}`, to: name(destination.cloud) };
}
