/**
 * Runs tasks with bounded concurrency while keeping tasks of the same key strictly sequential,
 * in submission order. Mutations of one secret are keyed by the secret, so they never run
 * concurrently, while different secrets proceed in parallel.
 */
export class KeyedExecutor {
  readonly #limit: number;
  readonly #tails = new Map<string, Promise<void>>();
  #running = 0;
  #pending = 0;
  readonly #waiters: Array<() => void> = [];
  readonly #roomWaiters: Array<{ limit: number; resolve: () => void }> = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("concurrency must be a positive integer");
    this.#limit = limit;
  }

  /** Number of tasks running or queued. */
  get size(): number {
    return this.#pending;
  }

  /** Resolves when the task has finished (it never rejects: tasks handle their own errors). */
  submit(key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    this.#pending++;
    const run = previous.then(async () => {
      await this.#acquire();
      try {
        await task();
      } catch {
        // Tasks settle their own messages; an escaped error must not break the key's chain.
      } finally {
        this.#pending--;
        this.#release();
        this.#notifyRoom();
      }
    });
    this.#tails.set(key, run);
    void run.then(() => {
      if (this.#tails.get(key) === run) this.#tails.delete(key);
    });
    return run;
  }

  /**
   * Resolves once fewer than `limit` tasks are running or queued — counting tasks, not keys, so
   * a burst for one secret also holds back the producer.
   */
  waitForRoom(limit: number): Promise<void> {
    if (this.#pending < limit) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push({ limit, resolve }));
  }

  #notifyRoom(): void {
    for (let index = this.#roomWaiters.length - 1; index >= 0; index--) {
      const waiter = this.#roomWaiters[index];
      if (waiter && this.#pending < waiter.limit) {
        this.#roomWaiters.splice(index, 1);
        waiter.resolve();
      }
    }
  }

  /** Resolves when every submitted task has finished. */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()]);
  }

  async #acquire(): Promise<void> {
    if (this.#running < this.#limit) {
      this.#running++;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#running--;
  }
}
