/**
 * Readiness as a list of named checks (bus connected, streams present, quarantine state readable).
 * `/readyz` answers 200 only when every check passes, and always says which failed — and, for a
 * check that can tell, why (`details`). Configuration is validated at boot instead: a process
 * whose configuration is invalid exits before it answers anything.
 */
export type ReadinessCheck = () => Promise<boolean | ReadinessResult> | boolean | ReadinessResult;

/** A check's answer with its reason, e.g. `{ ok: false, detail: "cell quarantined by alice: ..." }`. */
export interface ReadinessResult {
  ok: boolean;
  detail?: string;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, boolean>;
  /** Why, for the checks that said so. */
  details?: Record<string, string>;
}

export async function evaluateReadiness(checks: Readonly<Record<string, ReadinessCheck>>): Promise<ReadinessReport> {
  const results: Record<string, boolean> = {};
  const details: Record<string, string> = {};
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        const answer = await check();
        if (typeof answer === "boolean") {
          results[name] = answer;
        } else {
          results[name] = answer.ok;
          if (answer.detail !== undefined) details[name] = answer.detail;
        }
      } catch {
        results[name] = false;
      }
    }),
  );
  return { ready: Object.values(results).every(Boolean), checks: results, ...(Object.keys(details).length > 0 ? { details } : {}) };
}
