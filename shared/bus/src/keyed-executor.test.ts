import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KeyedExecutor } from "./keyed-executor.ts";

/** A task the test finishes by hand, recording when it started. */
class Gate {
  started = false;
  readonly log: string[];
  readonly label: string;
  readonly #done: Promise<void>;
  #open!: () => void;
  #fail!: (error: unknown) => void;

  constructor(log: string[], label: string) {
    this.log = log;
    this.label = label;
    this.#done = new Promise<void>((resolve, reject) => {
      this.#open = resolve;
      this.#fail = reject;
    });
  }

  readonly task = (): Promise<void> => {
    this.started = true;
    this.log.push(`start ${this.label}`);
    return this.#done.then(() => {
      this.log.push(`end ${this.label}`);
    });
  };

  async finish(): Promise<void> {
    this.#open();
    await flush();
  }

  async fail(error: unknown): Promise<void> {
    this.#fail(error);
    await flush();
  }
}

/** Lets every pending promise callback run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe("KeyedExecutor", () => {
  it("runs tasks of one key strictly one after another, in submission order", async () => {
    const log: string[] = [];
    const executor = new KeyedExecutor(8);
    const gates = ["1", "2", "3"].map((label) => new Gate(log, label));
    for (const gate of gates) void executor.submit("secret-a", gate.task);
    await flush();
    expect(gates.map((gate) => gate.started)).toEqual([true, false, false]);

    await gates[1]!.finish(); // finishing a later task early must not let it jump the queue
    expect(gates.map((gate) => gate.started)).toEqual([true, false, false]);

    await gates[0]!.finish();
    await gates[2]!.finish();
    expect(log).toEqual(["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
  });

  it("runs different keys at the same time, up to the limit", async () => {
    const log: string[] = [];
    const executor = new KeyedExecutor(2);
    const [a, b, c] = ["a", "b", "c"].map((label) => new Gate(log, label)) as [Gate, Gate, Gate];
    void executor.submit("a", a.task);
    void executor.submit("b", b.task);
    void executor.submit("c", c.task);
    await flush();
    expect([a.started, b.started, c.started]).toEqual([true, true, false]);

    await b.finish();
    expect(c.started).toBe(true);
    await a.finish();
    await c.finish();
    await executor.idle();
  });

  it("keeps the chain of a key going after a task throws", async () => {
    const log: string[] = [];
    const executor = new KeyedExecutor(1);
    const failing = new Gate(log, "failing");
    const next = new Gate(log, "next");
    const first = executor.submit("a", failing.task);
    void executor.submit("a", next.task);
    await failing.fail(new Error("handler escaped"));
    await expect(first).resolves.toBeUndefined();
    expect(next.started).toBe(true);
    await next.finish();
  });

  it("frees the slot of a throwing task for other keys", async () => {
    const executor = new KeyedExecutor(1);
    const ran: string[] = [];
    void executor.submit("a", async () => {
      throw new Error("boom");
    });
    await executor.submit("b", async () => {
      ran.push("b");
    });
    expect(ran).toEqual(["b"]);
  });

  it("idle() waits for every task, including ones submitted while waiting", async () => {
    const log: string[] = [];
    const executor = new KeyedExecutor(4);
    const first = new Gate(log, "first");
    const later = new Gate(log, "later");
    void executor.submit("a", first.task);
    let idle = false;
    void executor.idle().then(() => (idle = true));
    void executor.submit("b", later.task);
    await first.finish();
    expect(idle).toBe(false);
    await later.finish();
    expect(idle).toBe(true);
    expect(executor.size).toBe(0);
  });

  it("idle() resolves at once when nothing was submitted", async () => {
    await expect(new KeyedExecutor(1).idle()).resolves.toBeUndefined();
  });

  it("counts every task running or queued, also behind one busy key", async () => {
    // The consumer pauses pulling on this count; a hot secret must count once per message.
    const log: string[] = [];
    const executor = new KeyedExecutor(4);
    const gates = ["1", "2", "3"].map((label) => new Gate(log, label));
    for (const gate of gates) void executor.submit("hot-secret", gate.task);
    void executor.submit("other", async () => {});
    expect(executor.size).toBe(4);
    await flush();
    expect(executor.size).toBe(3);
    await gates[0]!.finish();
    expect(executor.size).toBe(2);
    await gates[1]!.finish();
    await gates[2]!.finish();
    expect(executor.size).toBe(0);
  });

  it("waitForRoom() holds a producer back while one busy secret has many tasks queued", async () => {
    const log: string[] = [];
    const executor = new KeyedExecutor(4);
    const gates = ["1", "2", "3"].map((label) => new Gate(log, label));
    for (const gate of gates) void executor.submit("same-secret", gate.task);
    let room = false;
    void executor.waitForRoom(3).then(() => (room = true));
    await flush();
    expect(room).toBe(false);
    await gates[0]?.finish();
    expect(room).toBe(true);
    for (const gate of gates.slice(1)) await gate.finish();
  });

  it("waitForRoom() holds a producer back until fewer tasks than the limit are pending", async () => {
    const log: string[] = [];
    const executor = new KeyedExecutor(1);
    const [a, b] = ["a", "b"].map((label) => new Gate(log, label)) as [Gate, Gate];
    await executor.waitForRoom(2);
    void executor.submit("a", a.task);
    void executor.submit("b", b.task);
    let room = false;
    void executor.waitForRoom(2).then(() => (room = true));
    await flush();
    expect(room).toBe(false);
    await a.finish();
    expect(room).toBe(true);
    await b.finish();
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses a concurrency of %s", (limit) => {
    expect(() => new KeyedExecutor(limit)).toThrow(RangeError);
  });

  it("keeps per-key order and the concurrency limit for any mix of keys and task lengths", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.record({ key: fc.constantFrom("a", "b", "c", "d", "e"), ticks: fc.nat({ max: 5 }), fails: fc.boolean() }), {
          maxLength: 40,
        }),
        async (limit, tasks) => {
          const executor = new KeyedExecutor(limit);
          const order = new Map<string, number[]>();
          const activeKeys = new Set<string>();
          let running = 0;
          let peak = 0;
          tasks.forEach(({ key, ticks, fails }, index) => {
            void executor.submit(key, async () => {
              expect(activeKeys.has(key)).toBe(false);
              activeKeys.add(key);
              peak = Math.max(peak, ++running);
              order.set(key, [...(order.get(key) ?? []), index]);
              for (let i = 0; i < ticks; i++) await Promise.resolve();
              running--;
              activeKeys.delete(key);
              if (fails) throw new Error("task failed");
            });
          });
          await executor.idle();
          expect(peak).toBeLessThanOrEqual(limit);
          for (const [key, indexes] of order) {
            const submitted = tasks.flatMap((task, index) => (task.key === key ? [index] : []));
            expect(indexes).toEqual(submitted);
          }
          expect([...order.values()].flat()).toHaveLength(tasks.length);
        },
      ),
      { numRuns: 200 },
    );
  });
});
