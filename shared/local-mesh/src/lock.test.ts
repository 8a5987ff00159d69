import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireLock } from "./lock.ts";

describe("the lock file of credmesh up", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "credmesh-lock-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a second holder while the first lives, naming its pid and endpoints; free again after release", async () => {
    const file = join(dir, "up.lock");
    const first = await acquireLock(file);
    if (!first.acquired) throw new Error("expected the lock");
    await first.lock.update({ nats: "nats://127.0.0.1:4222" });
    const second = await acquireLock(file);
    expect(second).toMatchObject({ acquired: false, holder: { pid: process.pid, endpoints: { nats: "nats://127.0.0.1:4222" } } });
    await first.lock.release();
    const third = await acquireLock(file);
    expect(third.acquired).toBe(true);
  });

  it("takes over the lock of a process that is gone (a crash), and does not remove another holder's lock", async () => {
    const file = join(dir, "up.lock");
    const gone = spawnSync(process.execPath, ["-e", "process.exit(0)"]).pid;
    await writeFile(file, JSON.stringify({ pid: gone, startedAt: "earlier" }));
    const taken = await acquireLock(file);
    if (!taken.acquired) throw new Error("a dead holder's lock must be taken over");
    expect(JSON.parse(await readFile(file, "utf8"))).toMatchObject({ pid: process.pid });
    // A lock written by someone else since is theirs: releasing ours leaves it.
    await writeFile(file, JSON.stringify({ pid: 1, startedAt: "later" }));
    await taken.lock.release();
    expect(JSON.parse(await readFile(file, "utf8"))).toMatchObject({ pid: 1 });
  });
});
