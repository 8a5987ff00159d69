export type Settled<R> =
  | { readonly state: "fulfilled"; readonly value: R }
  | { readonly state: "rejected"; readonly error: unknown }
  /** Not started because an earlier task failed: the whole batch will be retried anyway. */
  | { readonly state: "skipped" };

/**
 * Runs `task` over `items` with at most `limit` in flight and settles every one, in input order.
 * After the first failure no new task starts (those still running finish): the caller answers
 * the batch with a retry, and work that would be thrown away is not queued on a struggling bus.
 */
export async function settleBounded<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<Settled<R>[]> {
  const results: Settled<R>[] = items.map(() => ({ state: "skipped" }));
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = { state: "fulfilled", value: await task(items[index] as T) };
      } catch (error) {
        results[index] = { state: "rejected", error };
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
