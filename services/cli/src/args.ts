import { parseArgs } from "node:util";
import { CLOUDS, isCloud, type Cloud } from "@credmesh/bus-names";
import { parseReplicatorCell } from "@credmesh/bus-roles";

/** A command line the CLI cannot make sense of; the process exits with status 2. */
export class UsageError extends Error {
  /** The help topic to point the operator to. */
  readonly topic: HelpTopic;

  constructor(message: string, topic: HelpTopic = "") {
    super(message);
    this.name = "UsageError";
    this.topic = topic;
  }
}

export type HelpTopic = "" | "up" | "dlq" | "dlq list" | "dlq replay" | "reconcile" | "status" | "quarantine" | "release" | "bus-credentials" | "provision";

export type Command =
  | { name: "help"; topic: HelpTopic }
  | { name: "up"; once: boolean; ports: "fixed" | "free"; stateDir: string | undefined; cluster: boolean }
  | { name: "dlq list"; destination: Cloud | undefined; limit: number }
  | { name: "dlq replay"; select: { seqs: number[] } | { all: true }; destination: Cloud | undefined; dryRun: boolean; limit: number }
  | { name: "reconcile"; destination: Cloud | undefined; dryRun: boolean }
  | { name: "status"; auditWindow: number }
  | { name: "quarantine" | "release"; cell: string; reason: string; by: string | undefined }
  | { name: "bus-credentials"; out: string; replicators: Array<{ destination: Cloud; cell: string }>; partitions: number | undefined }
  | { name: "provision"; dryRun: boolean };

/** What the command line asked for, before the environment fills in connection defaults. */
export interface Invocation {
  command: Command;
  /** `--server`, comma-separated; undefined means CREDMESH_NATS_URL or the default. */
  servers: string[] | undefined;
  /** `--creds`; undefined means CREDMESH_NATS_CREDS_FILE. */
  credsFile: string | undefined;
  /** `--nkey` (an nkey seed file, e.g. the operator's from `credmesh bus-credentials`); undefined means CREDMESH_NATS_NKEY_SEED_FILE. */
  nkeyFile: string | undefined;
  /** `--ca` (the CA of the bus's TLS certificate); undefined means CREDMESH_NATS_CA_FILE. */
  caFile: string | undefined;
  json: boolean;
  /** `--timeout` in milliseconds; undefined means the command's own default. */
  timeoutMs: number | undefined;
}

export const DEFAULT_DLQ_LIST_LIMIT = 100;
export const DEFAULT_AUDIT_WINDOW = 10_000;

const GLOBAL_OPTIONS = {
  server: { type: "string" },
  creds: { type: "string" },
  nkey: { type: "string" },
  ca: { type: "string" },
  json: { type: "boolean" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const destination = { type: "string" } as const;

/** Options of each command, on top of the global ones. */
const COMMAND_OPTIONS = {
  up: { once: { type: "boolean" }, "any-ports": { type: "boolean" }, "state-dir": { type: "string" }, cluster: { type: "boolean" } },
  "dlq list": { destination, limit: { type: "string" } },
  "dlq replay": {
    seq: { type: "string", multiple: true },
    all: { type: "boolean" },
    destination,
    "dry-run": { type: "boolean" },
    limit: { type: "string" },
  },
  reconcile: { destination, "dry-run": { type: "boolean" } },
  status: { "audit-window": { type: "string" } },
  quarantine: { reason: { type: "string" }, by: { type: "string" } },
  release: { reason: { type: "string" }, by: { type: "string" } },
  "bus-credentials": { out: { type: "string" }, replicator: { type: "string", multiple: true }, partitions: { type: "string" } },
  provision: { "dry-run": { type: "boolean" } },
} as const;

type CommandName = keyof typeof COMMAND_OPTIONS;

/**
 * Parses `credmesh <command> [flags]` (argv without node and the script). Pure: throws
 * {@link UsageError} for anything it cannot use, so the caller exits 2 before touching the bus.
 */
export function parseInvocation(argv: readonly string[]): Invocation {
  const [first, second] = argv;
  const base = { servers: undefined, credsFile: undefined, nkeyFile: undefined, caFile: undefined, json: false, timeoutMs: undefined };
  if (first === undefined || first === "help" || first === "--help" || first === "-h") {
    return { ...base, command: { name: "help", topic: helpTopic(argv.slice(1).join(" ")) } };
  }

  let name: CommandName;
  let rest: readonly string[];
  if (first === "dlq") {
    if (second === undefined || second === "--help" || second === "-h" || second === "help") {
      return { ...base, command: { name: "help", topic: "dlq" } };
    }
    if (second !== "list" && second !== "replay") throw new UsageError(`unknown dlq command "${second}" (expected list or replay)`, "dlq");
    name = `dlq ${second}`;
    rest = argv.slice(2);
  } else if (first === "up" || first === "reconcile" || first === "status" || first === "quarantine" || first === "release" || first === "bus-credentials" || first === "provision") {
    name = first;
    rest = argv.slice(1);
  } else {
    throw new UsageError(`unknown command "${first}"`);
  }

  const { values, positionals } = parseFlags(name, rest);
  if (values.help === true) return { ...base, command: { name: "help", topic: name } };
  if (values.creds !== undefined && values.nkey !== undefined) throw new UsageError("give --creds or --nkey, not both", name);
  if (name === "up") {
    // `up` runs its own bus: the connection flags of the operator commands do not apply.
    const foreign = ["server", "creds", "nkey", "ca", "json", "timeout"].filter((flag) => values[flag] !== undefined);
    if (foreign.length > 0) throw new UsageError(`--${foreign.join(", --")} does not apply to up (it starts its own bus)`, "up");
  }
  return {
    command: buildCommand(name, values, positionals),
    servers: values.server === undefined ? undefined : serverList(values.server as string),
    credsFile: values.creds === undefined ? undefined : nonEmpty("--creds", values.creds as string, name),
    nkeyFile: values.nkey === undefined ? undefined : nonEmpty("--nkey", values.nkey as string, name),
    caFile: values.ca === undefined ? undefined : nonEmpty("--ca", values.ca as string, name),
    json: values.json === true,
    timeoutMs: values.timeout === undefined ? undefined : seconds("--timeout", values.timeout as string, name),
  };
}

type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** Commands that take one positional argument (the cell). */
const WITH_CELL: ReadonlySet<CommandName> = new Set(["quarantine", "release"]);

function parseFlags(name: CommandName, args: readonly string[]): { values: FlagValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS[name] },
      strict: true,
      allowPositionals: WITH_CELL.has(name),
    });
    return { values: values as FlagValues, positionals };
  } catch (error) {
    // node:util explains at length how to pass positionals; the first sentence is the point.
    const message = error instanceof Error ? (error.message.split(/\.(\s|$)/)[0] ?? error.message) : "invalid arguments";
    throw new UsageError(message, name);
  }
}

function buildCommand(name: CommandName, values: FlagValues, positionals: readonly string[]): Command {
  switch (name) {
    case "up":
      return {
        name,
        once: values.once === true,
        ports: values["any-ports"] === true ? "free" : "fixed",
        stateDir: values["state-dir"] === undefined ? undefined : nonEmpty("--state-dir", String(values["state-dir"]), name),
        cluster: values.cluster === true,
      };
    case "quarantine":
    case "release": {
      const [cell, ...extra] = positionals;
      if (cell === undefined) throw new UsageError(`say which cell: credmesh ${name} <cell> --reason TEXT`, name);
      if (extra.length > 0) throw new UsageError(`one cell at a time (got ${positionals.length})`, name);
      if (!/^[A-Za-z0-9_.@-]{2,64}$/.test(cell)) throw new UsageError(`"${cell}" is not a cell id (letters, digits and _.@-, 2 to 64)`, name);
      const reason = values.reason === undefined ? "" : String(values.reason).trim();
      if (reason === "") throw new UsageError(`--reason is required: say why (it is audited)`, name);
      if (reason.length > 1024) throw new UsageError("--reason must be at most 1024 characters", name);
      const by = values.by === undefined ? undefined : nonEmpty("--by", String(values.by), name).trim().slice(0, 256);
      return { name, cell, reason, by };
    }
    case "dlq list":
      return {
        name,
        destination: cloudFlag(values.destination, name),
        limit: values.limit === undefined ? DEFAULT_DLQ_LIST_LIMIT : positiveInt("--limit", values.limit as string, name),
      };
    case "dlq replay": {
      const seqFlags = (values.seq as string[] | undefined) ?? [];
      const all = values.all === true;
      if (all && seqFlags.length > 0) throw new UsageError("give either --seq or --all, not both", name);
      if (!all && seqFlags.length === 0) throw new UsageError("say which dead letters to replay: --seq N (repeatable) or --all", name);
      const seqs = [...new Set(seqFlags.flatMap((flag) => flag.split(",")).map((part) => positiveInt("--seq", part.trim(), name)))];
      return {
        name,
        select: all ? { all: true } : { seqs },
        destination: cloudFlag(values.destination, name),
        dryRun: values["dry-run"] === true,
        limit: values.limit === undefined ? Number.MAX_SAFE_INTEGER : positiveInt("--limit", values.limit as string, name),
      };
    }
    case "reconcile":
      return { name, destination: cloudFlag(values.destination, name), dryRun: values["dry-run"] === true };
    case "provision":
      return { name, dryRun: values["dry-run"] === true };
    case "bus-credentials": {
      const out = values.out === undefined ? "" : String(values.out).trim();
      if (out === "") throw new UsageError("--out DIR is required: where the seeds and the server's authorization are written", name);
      const replicators = ((values.replicator as string[] | undefined) ?? []).map((text) => {
        const cell = parseReplicatorCell(text.trim());
        if (!cell) throw new UsageError(`--replicator must be DESTINATION:CELL, e.g. azure:prod-azure-1 (got "${text}")`, name);
        return cell;
      });
      const partitions = values.partitions === undefined ? undefined : positiveInt("--partitions", values.partitions as string, name);
      if (partitions !== undefined && partitions > 256) throw new UsageError(`--partitions must be at most 256 (got ${partitions})`, name);
      return { name, out, replicators, partitions };
    }
    case "status":
      return {
        name,
        auditWindow:
          values["audit-window"] === undefined ? DEFAULT_AUDIT_WINDOW : positiveInt("--audit-window", values["audit-window"] as string, name),
      };
  }
}

function helpTopic(text: string): HelpTopic {
  const topics: readonly HelpTopic[] = ["up", "dlq", "dlq list", "dlq replay", "reconcile", "status", "quarantine", "release", "bus-credentials", "provision"];
  return topics.find((topic) => topic === text) ?? "";
}

function cloudFlag(value: FlagValues[string], topic: HelpTopic): Cloud | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!isCloud(text)) throw new UsageError(`--destination must be one of ${CLOUDS.join(", ")} (got "${text}")`, topic);
  return text;
}

function positiveInt(flag: string, text: string, topic: HelpTopic): number {
  const value = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1) throw new UsageError(`${flag} must be a positive integer (got "${text}")`, topic);
  return value;
}

function seconds(flag: string, text: string, topic: HelpTopic): number {
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(value > 0 && value <= 3_600)) throw new UsageError(`${flag} must be a number of seconds between 0 and 3600 (got "${text}")`, topic);
  return Math.round(value * 1_000);
}

function nonEmpty(flag: string, text: string, topic: HelpTopic): string {
  if (text.trim() === "") throw new UsageError(`${flag} must not be empty`, topic);
  return text;
}

function serverList(text: string): string[] {
  const servers = text
    .split(",")
    .map((server) => server.trim())
    .filter((server) => server !== "");
  if (servers.length === 0) throw new UsageError("--server must name at least one NATS server");
  return servers;
}
