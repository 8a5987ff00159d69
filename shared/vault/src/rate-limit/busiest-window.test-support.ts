/**
 * Most of `times` (ms) that fall into any window of `windowMs`, half-open as a cloud's quota counts
 * them: calls exactly a window apart are in different windows. For the rate limiter's tests.
 */
export function busiestWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}
