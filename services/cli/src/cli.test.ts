import { describe, expect, it } from "vitest";
import { redactUserInfo } from "./bus/connection.ts";
import { runCli } from "./cli.ts";

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (text: string) => void out.push(text), err: (text: string) => void err.push(text) }, out, err };
};

describe("runCli", () => {
  it("prints help on stdout and exits 0", async () => {
    const { io, out, err } = capture();
    expect(await runCli(["help"], io, {})).toBe(0);
    expect(out.join("\n")).toContain("dlq replay              republish dead-lettered mutations");
    expect(err).toEqual([]);
    const topic = capture();
    expect(await runCli(["dlq", "replay", "--help"], topic.io, {})).toBe(0);
    expect(topic.out.join("\n")).toMatch(/^credmesh dlq replay \(--seq N \.\.\. \| --all\)/);
  });

  it("exits 2 on a usage error or a bad setting, before touching the bus", async () => {
    const usage = capture();
    expect(await runCli(["dlq", "list", "--limit", "-"], usage.io, {})).toBe(2);
    expect(usage.err).toEqual(['credmesh: --limit must be a positive integer (got "-")', 'Run "credmesh dlq list --help" for usage.']);
    const setting = capture();
    expect(await runCli(["status"], setting.io, { CREDMESH_PARTITIONS: "many" })).toBe(2);
    expect(setting.err.join("\n")).toContain('CREDMESH_PARTITIONS="many" must be an integer between 1 and 256');
  });

  it("exits 1 with a clear message when the bus is unreachable, never showing URL credentials", async () => {
    const { io, out, err } = capture();
    expect(await runCli(["status", "--server", "tls://ops:hunter2@127.0.0.1:1", "--timeout", "2"], io, {})).toBe(1);
    expect(out).toEqual([]);
    expect(err.join("\n")).toMatch(/^credmesh: cannot connect to NATS at tls:\/\/\[REDACTED\]@127\.0\.0\.1:1 \(/);
    expect(err.join("\n")).not.toContain("hunter2");
  });

  it("refuses an unreadable credentials file by name, not by content", async () => {
    const { io, err } = capture();
    expect(await runCli(["status", "--creds", "/nonexistent/ops.creds"], io, {})).toBe(1);
    expect(err).toEqual(["credmesh: cannot read the NATS credentials file /nonexistent/ops.creds (ENOENT)"]);
  });
});

describe("redactUserInfo", () => {
  it("blanks the user and password of a server URL", () => {
    expect(redactUserInfo("nats://user:pass@host:4222")).toBe("nats://[REDACTED]@host:4222");
    expect(redactUserInfo("tls://token@host")).toBe("tls://[REDACTED]@host");
    expect(redactUserInfo("user:pass@host:4222")).toBe("[REDACTED]@host:4222");
    expect(redactUserInfo("nats://127.0.0.1:4222")).toBe("nats://127.0.0.1:4222");
  });
});
