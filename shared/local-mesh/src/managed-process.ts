import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";

export interface ManagedProcessOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Also append every line to this file (`credmesh up` keeps each part's log there). */
  logFile?: string;
  /** Keep at most this many recent lines in memory (default: all, as tests scan every line). */
  keepLines?: number;
  /**
   * Run in a process group of its own, so a terminal's Ctrl-C reaches only the owner, which then
   * stops its parts in order (services before the bus).
   */
  ownProcessGroup?: boolean;
}

/**
 * A child process the local mesh or a test owns: its stdout and stderr lines are kept (tests scan
 * them for leaked secrets; starters wait for readiness lines), and it is stopped with its owner.
 */
export class ManagedProcess {
  readonly name: string;
  readonly lines: string[] = [];
  readonly #child: ChildProcess;
  readonly #waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  readonly exited: Promise<number | null>;
  readonly #keepLines: number;
  readonly #log: WriteStream | undefined;

  constructor(name: string, command: string, args: readonly string[], options: ManagedProcessOptions = {}) {
    this.name = name;
    this.#keepLines = options.keepLines ?? Number.POSITIVE_INFINITY;
    this.#log = options.logFile === undefined ? undefined : createWriteStream(options.logFile, { flags: "a" });
    this.#child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      detached: options.ownProcessGroup ?? false,
    });
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (line) => this.#onLine(line));
    }
    this.exited = new Promise((resolve) =>
      this.#child.once("exit", (code) => {
        this.#log?.end();
        resolve(code);
      }),
    );
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Resolves with the first line (already seen or future) matching `pattern`; rejects if the process exits first. */
  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no line matching ${pattern} within ${timeoutMs} ms\n${this.tail()}`)), timeoutMs);
      this.#waiters.push({
        pattern,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code}) before printing ${pattern}\n${this.tail()}`));
      });
    });
  }

  tail(count = 30): string {
    return this.lines.slice(-count).join("\n");
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL at once: a crash, as the reliability tests need. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.#child.kill("SIGKILL");
    await this.exited;
  }

  #onLine(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.#keepLines) this.lines.splice(0, this.lines.length - this.#keepLines);
    this.#log?.write(`${line}\n`);
    for (let index = this.#waiters.length - 1; index >= 0; index--) {
      const waiter = this.#waiters[index];
      if (waiter && waiter.pattern.test(line)) {
        this.#waiters.splice(index, 1);
        waiter.resolve(line);
      }
    }
  }
}
