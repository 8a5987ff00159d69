import { setTimeout as sleep } from "node:timers/promises";
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";

/** Where a stream stands: how many messages it holds and the sequence of the last one. */
export interface StreamPosition {
  messages: number;
  lastSeq: number;
}

const SETTLE_POLL_MS = 250;
const SETTLE_POLLS = 40;

/**
 * The stream's position once it has stopped growing. Requests that autocannon cut off at the end
 * of a run were already received and are still being published; counting before they land would
 * blame the target for messages it is about to store. Bounded: 40 polls, 10 s.
 */
export async function settledPosition(jsm: JetStreamManager, stream: string): Promise<StreamPosition> {
  let previous = await position(jsm, stream);
  for (let poll = 0; poll < SETTLE_POLLS; poll++) {
    await sleep(SETTLE_POLL_MS);
    const current = await position(jsm, stream);
    if (current.messages === previous.messages) return current;
    previous = current;
  }
  throw new Error(`stream ${stream} kept growing for ${(SETTLE_POLLS * SETTLE_POLL_MS) / 1_000} s after the load stopped`);
}

async function position(jsm: JetStreamManager, stream: string): Promise<StreamPosition> {
  const { state } = await jsm.streams.info(stream);
  return { messages: state.messages, lastSeq: state.last_seq };
}

/**
 * The JetStream message ids (Nats-Msg-Id) stored in sequences `fromSeq..toSeq`, read with an
 * ordered consumer that fetches headers only. Bounded by the sequence range and by `timeoutMs`.
 */
export async function storedMessageIds(js: JetStreamClient, stream: string, fromSeq: number, toSeq: number, timeoutMs = 60_000): Promise<Set<string>> {
  const ids = new Set<string>();
  if (toSeq < fromSeq) return ids;
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq, headers_only: true });
  const messages = await consumer.consume({ max_messages: 1_000 });
  const timer = setTimeout(() => messages.stop(), timeoutMs);
  let seq = fromSeq - 1;
  try {
    for await (const message of messages) {
      seq = message.seq;
      const id = message.headers?.get("Nats-Msg-Id");
      if (id) ids.add(id);
      if (seq >= toSeq) break;
    }
  } finally {
    clearTimeout(timer);
    messages.stop();
  }
  if (seq < toSeq) throw new Error(`read ${stream} only up to sequence ${seq} of ${toSeq} within ${timeoutMs} ms`);
  return ids;
}
