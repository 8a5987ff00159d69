import { describe, expect, it } from "vitest";
import { DEFAULT_AUDIT_WINDOW, DEFAULT_DLQ_LIST_LIMIT, UsageError, parseInvocation } from "./args.ts";

const usage = (argv: string[]): UsageError => {
  try {
    parseInvocation(argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`expected a usage error for ${argv.join(" ")}`);
};

describe("parseInvocation", () => {
  it("reads up: the fixed ports by default, --any-ports, --once and a state directory; no connection flags", () => {
    expect(parseInvocation(["up"]).command).toEqual({ name: "up", once: false, ports: "fixed", stateDir: undefined, cluster: false });
    expect(parseInvocation(["up", "--once", "--any-ports", "--state-dir", "/tmp/x"]).command).toEqual({ name: "up", once: true, ports: "free", stateDir: "/tmp/x", cluster: false });
    expect(parseInvocation(["up", "--once", "--cluster"]).command).toMatchObject({ name: "up", once: true, cluster: true });
    expect(parseInvocation(["up", "--help"]).command).toEqual({ name: "help", topic: "up" });
    expect(usage(["up", "--server", "nats://x:4222"])).toMatchObject({ message: expect.stringMatching(/--server does not apply to up/), topic: "up" });
    expect(usage(["up", "--state-dir", " "]).message).toMatch(/--state-dir must not be empty/);
  });

  it("reads dlq list with its defaults and the connection flags", () => {
    expect(parseInvocation(["dlq", "list"])).toEqual({
      command: { name: "dlq list", destination: undefined, limit: DEFAULT_DLQ_LIST_LIMIT },
      servers: undefined,
      credsFile: undefined,
      nkeyFile: undefined,
      caFile: undefined,
      json: false,
      timeoutMs: undefined,
    });
    expect(
      parseInvocation(["dlq", "list", "--destination", "azure", "--limit", "5", "--server", "nats://a:4222, nats://b:4222", "--creds", "/x.creds", "--ca", "/ca.pem", "--json", "--timeout", "2.5"]),
    ).toEqual({
      command: { name: "dlq list", destination: "azure", limit: 5 },
      servers: ["nats://a:4222", "nats://b:4222"],
      credsFile: "/x.creds",
      nkeyFile: undefined,
      caFile: "/ca.pem",
      json: true,
      timeoutMs: 2_500,
    });
  });

  it("reads dlq replay by sequence (repeated or comma-separated, deduplicated) or --all", () => {
    expect(parseInvocation(["dlq", "replay", "--seq", "3", "--seq", "7,3", "--dry-run"]).command).toEqual({
      name: "dlq replay",
      select: { seqs: [3, 7] },
      destination: undefined,
      dryRun: true,
      limit: Number.MAX_SAFE_INTEGER,
    });
    expect(parseInvocation(["dlq", "replay", "--all", "--destination", "aws", "--limit", "10"]).command).toEqual({
      name: "dlq replay",
      select: { all: true },
      destination: "aws",
      dryRun: false,
      limit: 10,
    });
  });

  it("reads reconcile and status", () => {
    expect(parseInvocation(["reconcile", "--destination", "azure", "--dry-run"]).command).toEqual({ name: "reconcile", destination: "azure", dryRun: true });
    expect(parseInvocation(["reconcile"]).command).toEqual({ name: "reconcile", destination: undefined, dryRun: false });
    expect(parseInvocation(["status"]).command).toEqual({ name: "status", auditWindow: DEFAULT_AUDIT_WINDOW });
    expect(parseInvocation(["status", "--audit-window", "50"]).command).toEqual({ name: "status", auditWindow: 50 });
  });

  it("answers help for no command, help, --help and per command", () => {
    expect(parseInvocation([]).command).toEqual({ name: "help", topic: "" });
    expect(parseInvocation(["help"]).command).toEqual({ name: "help", topic: "" });
    expect(parseInvocation(["help", "dlq", "replay"]).command).toEqual({ name: "help", topic: "dlq replay" });
    expect(parseInvocation(["-h"]).command).toEqual({ name: "help", topic: "" });
    expect(parseInvocation(["dlq"]).command).toEqual({ name: "help", topic: "dlq" });
    expect(parseInvocation(["dlq", "list", "--help"]).command).toEqual({ name: "help", topic: "dlq list" });
    expect(parseInvocation(["status", "-h"]).command).toEqual({ name: "help", topic: "status" });
  });

  it("refuses what it cannot use, naming the flag and pointing to the right help", () => {
    expect(usage(["deploy"]).message).toBe('unknown command "deploy"');
    expect(usage(["dlq", "purge"])).toMatchObject({ message: expect.stringContaining('unknown dlq command "purge"'), topic: "dlq" });
    expect(usage(["dlq", "list", "--destination", "gcp"])).toMatchObject({ message: expect.stringContaining("--destination must be one of aws, azure"), topic: "dlq list" });
    expect(usage(["dlq", "list", "--limit", "0"]).message).toContain("--limit must be a positive integer");
    expect(usage(["dlq", "list", "--limit", "ten"]).message).toContain("--limit must be a positive integer");
    expect(usage(["dlq", "list", "--seq", "1"]).message).toMatch(/Unknown option '--seq'/);
    expect(usage(["dlq", "list", "extra"]).message).toMatch(/Unexpected argument 'extra'/);
    expect(usage(["dlq", "replay"]).message).toContain("--seq N (repeatable) or --all");
    expect(usage(["dlq", "replay", "--all", "--seq", "1"]).message).toContain("either --seq or --all");
    expect(usage(["dlq", "replay", "--seq=-1"]).message).toContain("--seq must be a positive integer");
    expect(usage(["dlq", "replay", "--seq", "1.5"]).message).toContain("--seq must be a positive integer");
    expect(usage(["reconcile", "--timeout", "0"]).message).toContain("--timeout must be a number of seconds");
    expect(usage(["status", "--server", " , "]).message).toContain("--server must name at least one NATS server");
    expect(usage(["status", "--creds", " "]).message).toContain("--creds must not be empty");
    expect(usage(["status", "--json=yes"]).message).toMatch(/--json/);
  });
});
