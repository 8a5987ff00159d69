import { CALL_OUTCOME, type CallOutcome, type CloudLabel } from "./labels.ts";
import type { Metrics } from "./registry.ts";

/**
 * The one shape for every external call: count it by outcome and time it. `isRetryable` decides
 * the outcome label of a failure (the error taxonomy lives elsewhere; this package stays
 * dependency-free).
 */
export async function observeCall<T>(
  metrics: Pick<Metrics, "cloudApiCalls" | "cloudApiDuration">,
  labels: { cloud: CloudLabel; operation: string },
  call: () => Promise<T>,
  isRetryable: (error: unknown) => boolean,
): Promise<T> {
  const stop = metrics.cloudApiDuration.startTimer(labels);
  let outcome: CallOutcome = CALL_OUTCOME.success;
  try {
    return await call();
  } catch (error) {
    outcome = isRetryable(error) ? CALL_OUTCOME.retryableError : CALL_OUTCOME.permanentError;
    throw error;
  } finally {
    stop();
    metrics.cloudApiCalls.inc({ ...labels, outcome });
  }
}
