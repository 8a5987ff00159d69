import { open, readFile, rm, stat, writeFile } from "node:fs/promises";

/** What the lock file says about the `credmesh up` that holds it. */
export interface LockHolder {
  pid: number;
  startedAt: string;
  /** Filled in once the mesh runs: part → address, for the refusal message of a second `up`. */
  endpoints?: Record<string, string>;
}

export interface HeldLock {
  readonly file: string;
  /** Records where the running mesh's parts are (shown to a second `up`). */
  update(endpoints: Record<string, string>): Promise<void>;
  release(): Promise<void>;
}

export type LockResult = { acquired: true; lock: HeldLock } | { acquired: false; holder: LockHolder };

/**
 * Takes the lock file of `credmesh up` (created exclusively, holding the pid). A lock whose process
 * is gone (a crash, SIGKILL) is stale and taken over; a live one is reported, not broken.
 */
export async function acquireLock(file: string, pid = process.pid): Promise<LockResult> {
  const holder: LockHolder = { pid, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx", 0o600);
      await handle.writeFile(`${JSON.stringify(holder)}\n`);
      await handle.close();
      return { acquired: true, lock: heldLock(file, holder) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const current = await readHolder(file);
    if (current && isAlive(current.pid)) return { acquired: false, holder: current };
    // An unreadable lock younger than a second may be one being written right now.
    if (!current && (await ageMs(file)) < 1_000) return { acquired: false, holder: { pid: 0, startedAt: "just now" } };
    await rm(file, { force: true });
  }
  const current = await readHolder(file);
  if (current) return { acquired: false, holder: current };
  throw new Error(`could not take the lock file ${file}`);
}

function heldLock(file: string, holder: LockHolder): HeldLock {
  return {
    file,
    async update(endpoints) {
      await writeFile(file, `${JSON.stringify({ ...holder, endpoints })}\n`, { mode: 0o600 });
    },
    async release() {
      const current = await readHolder(file);
      if (current?.pid === holder.pid) await rm(file, { force: true });
    },
  };
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<LockHolder>;
    return typeof parsed.pid === "number" && Number.isInteger(parsed.pid) && parsed.pid > 0
      ? { pid: parsed.pid, startedAt: String(parsed.startedAt ?? "unknown"), ...(parsed.endpoints ? { endpoints: parsed.endpoints } : {}) }
      : undefined;
  } catch {
    // Missing, half-written or not ours: treated as no holder (a live writer holds it only for microseconds).
    return undefined;
  }
}

async function ageMs(file: string): Promise<number> {
  try {
    return Date.now() - (await stat(file)).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, owned by someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
