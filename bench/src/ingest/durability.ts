import type { StreamPosition } from "./stream.ts";

/**
 * Whether every acknowledged event is in the stream. A 2xx promises the event is stored, so
 * `acknowledgedMissing` must be 0. The stream usually holds a few more than were acknowledged:
 * the requests in flight when the run ended were stored, but their answers were never read
 * (`storedUnacknowledged`, at most one per connection).
 */
export interface Durability {
  stream: string;
  before: StreamPosition;
  after: StreamPosition;
  /** 2xx responses counted by autocannon. */
  acknowledged: number;
  /** Growth of the stream's message count during the run. */
  storedDelta: number;
  /** Acknowledged event ids found in the stream. */
  acknowledgedStored: number;
  /** Acknowledged event ids not found in the stream: lost events. */
  acknowledgedMissing: number;
  /** Stored messages whose answer the client never read (cut off at the end of the run). */
  storedUnacknowledged: number;
  /** storedDelta === acknowledged + storedUnacknowledged, and nothing acknowledged is missing. */
  ok: boolean;
}

/** Compares what the client was told (2xx and the ids in their bodies) with what the stream holds. */
export function checkDurability(
  stream: string,
  before: StreamPosition,
  after: StreamPosition,
  acknowledged: number,
  acknowledgedIds: ReadonlySet<string>,
  storedIds: ReadonlySet<string>,
): Durability {
  let acknowledgedStored = 0;
  for (const id of acknowledgedIds) if (storedIds.has(id)) acknowledgedStored++;
  const storedDelta = after.messages - before.messages;
  const storedUnacknowledged = storedIds.size - acknowledgedStored;
  // Every 2xx must have carried an id, and every id must be stored.
  const acknowledgedMissing = acknowledged - acknowledgedStored;
  return {
    stream,
    before,
    after,
    acknowledged,
    storedDelta,
    acknowledgedStored,
    acknowledgedMissing,
    storedUnacknowledged,
    ok: acknowledgedMissing === 0 && storedDelta === acknowledged + storedUnacknowledged,
  };
}
