import { abortError, isCredmeshError } from "@credmesh/errors";
import { observeCall, type CloudLabel, type Metrics } from "@credmesh/metrics";

export type CallMetrics = Pick<Metrics, "cloudApiCalls" | "cloudApiDuration">;

/** Times and counts one cloud call; the outcome label follows the classified error. */
export function observed<T>(metrics: CallMetrics | undefined, cloud: CloudLabel, operation: string, call: () => Promise<T>): Promise<T> {
  if (!metrics) return call();
  return observeCall(metrics, { cloud, operation }, call, (error) => isCredmeshError(error) && error.retryable);
}

/**
 * The signal of one call attempt: the operation's signal (deadline, lost lease) and, when set,
 * the per-attempt timeout. Throws before the call when the operation is already aborted, so an
 * aborted operation makes no further cloud call.
 */
export function attemptSignal(signal: AbortSignal | undefined, timeoutMs: number | undefined): AbortSignal | undefined {
  if (signal?.aborted) throw abortError(signal);
  const timeout = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
  if (!signal) return timeout;
  return timeout ? AbortSignal.any([signal, timeout]) : signal;
}
