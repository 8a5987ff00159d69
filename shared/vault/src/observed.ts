import { isCredmeshError } from "@credmesh/errors";
import { observeCall, type CloudLabel, type Metrics } from "@credmesh/metrics";

export type CallMetrics = Pick<Metrics, "cloudApiCalls" | "cloudApiDuration">;

/** Times and counts one cloud call; the outcome label follows the classified error. */
export function observed<T>(metrics: CallMetrics | undefined, cloud: CloudLabel, operation: string, call: () => Promise<T>): Promise<T> {
  if (!metrics) return call();
  return observeCall(metrics, { cloud, operation }, call, (error) => isCredmeshError(error) && error.retryable);
}
