/**
 * Readiness as a list of named checks (bus connected, streams present). `/readyz` answers 200
 * only when every check passes, and always says which failed. Configuration is validated at boot
 * instead: a process whose configuration is invalid exits before it answers anything.
 */
export type ReadinessCheck = () => Promise<boolean> | boolean;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, boolean>;
}

export async function evaluateReadiness(checks: Readonly<Record<string, ReadinessCheck>>): Promise<ReadinessReport> {
  const results: Record<string, boolean> = {};
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        results[name] = await check();
      } catch {
        results[name] = false;
      }
    }),
  );
  return { ready: Object.values(results).every(Boolean), checks: results };
}
