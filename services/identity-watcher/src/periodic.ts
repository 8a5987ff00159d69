/**
 * Runs `work` now and then every `intervalMs`, never twice at once (a slow run delays the next
 * instead of overlapping it); `stop` waits for the run in progress.
 */
export class Periodic {
  readonly #work: () => Promise<void>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(work: () => Promise<void>) {
    this.#work = work;
  }

  start(intervalMs: number): void {
    const tick = (): void => {
      this.#running ??= this.#work().finally(() => {
        this.#running = undefined;
      });
    };
    tick();
    this.#timer = setInterval(tick, intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
