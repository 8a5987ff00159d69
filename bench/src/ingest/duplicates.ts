import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { EventBodies } from "./events.ts";
import { settledPosition, storedMessageIds } from "./stream.ts";
import type { Target } from "./target.ts";

/** N concurrent deliveries of one event: exactly one must be stored, the rest answered as duplicates. */
export interface DuplicatesCheck {
  deliveries: number;
  /** 202 with `duplicate: false`. */
  accepted: number;
  /** 202 with `duplicate: true`. */
  answeredDuplicate: number;
  /** Any other answer, by status (0: no answer). */
  otherStatuses: Record<string, number>;
  /** Growth of the stream's message count. */
  stored: number;
  /** Whether what was stored is that event. */
  storedIsTheEvent: boolean;
  ok: boolean;
}

/**
 * Sends the same event `deliveries` times at once, as EventBridge does when it retries and as
 * several senders racing would, then counts what the stream kept.
 */
export async function checkDuplicates(
  target: Target,
  bodies: EventBodies,
  deliveries: number,
  jsm: JetStreamManager,
  js: JetStreamClient,
): Promise<DuplicatesCheck> {
  const { id, body } = bodies.next();
  const before = await settledPosition(jsm, target.stream);
  const answers = await Promise.all(
    Array.from({ length: deliveries }, async () => {
      try {
        const response = await fetch(target.url, { method: "POST", headers: target.headers, body, signal: AbortSignal.timeout(30_000) });
        const answer = (await response.json()) as { duplicate?: boolean };
        return { status: response.status, duplicate: answer.duplicate === true };
      } catch {
        return { status: 0, duplicate: false };
      }
    }),
  );
  const after = await settledPosition(jsm, target.stream);
  const stored = await storedMessageIds(js, target.stream, before.lastSeq + 1, after.lastSeq);

  const otherStatuses: Record<string, number> = {};
  let accepted = 0;
  let answeredDuplicate = 0;
  for (const answer of answers) {
    if (answer.status === 202 && answer.duplicate) answeredDuplicate++;
    else if (answer.status === 202) accepted++;
    else otherStatuses[answer.status] = (otherStatuses[answer.status] ?? 0) + 1;
  }
  const storedCount = after.messages - before.messages;
  const storedIsTheEvent = stored.size === 1 && stored.has(id);
  return {
    deliveries,
    accepted,
    answeredDuplicate,
    otherStatuses,
    stored: storedCount,
    storedIsTheEvent,
    ok: storedCount === 1 && storedIsTheEvent && accepted === 1 && answeredDuplicate === deliveries - 1,
  };
}
