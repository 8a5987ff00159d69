import type { PagedOperation, VaultContext } from "./port.ts";

/**
 * One page request of a paged operation under the context's pacing ({@link VaultContext.pace}):
 * waits for leave, makes the request, and settles the leave when it answered — or releases it when
 * `madeRequest` says the call sent nothing (an SDK page iterator that had already ended answers
 * `done` without a request). A failed call is counted: it may have reached the cloud.
 */
export async function pagedRequest<T>(
  ctx: Pick<VaultContext, "pace"> | undefined,
  operation: PagedOperation,
  call: () => Promise<T>,
  madeRequest: (result: T) => boolean = () => true,
): Promise<T> {
  const permit = await ctx?.pace?.(operation);
  let result: T;
  try {
    result = await call();
  } catch (error) {
    permit?.settle();
    throw error;
  }
  if (madeRequest(result)) permit?.settle();
  else permit?.release();
  return result;
}
