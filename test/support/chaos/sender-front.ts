/**
 * What a cloud's event sender does in front of several ingest replicas, as the chaos tests need it:
 * deliveries go round-robin over the replicas (a load balancer), and a delivery that fails — a 5xx,
 * a connection refused or reset, no answer within the sender's timeout — is tried again, on the
 * next replica, with a short backoff, until it is acknowledged (2xx) or the give-up horizon passes.
 * EventBridge waits 5 s for an answer and retries 5xx/timeouts for up to 24 h; Event Grid waits 30 s
 * and retries for 24 h. The horizon here is shorter (the test is bounded) and an event that
 * reaches it is counted, never hidden.
 *
 * Every attempt is recorded (when, where, outcome, how long), so the test can measure the
 * publish-unavailable window as the senders saw it.
 */
export interface Attempt {
  at: number;
  ms: number;
  url: string;
  /** HTTP status, or 0 for a connection error or the sender's timeout. */
  status: number;
}

export interface Delivery {
  /** When the first attempt started and when the delivery was acknowledged (undefined: given up). */
  firstAt: number;
  ackedAt: number | undefined;
  status: number | undefined;
  attempts: number;
}

export interface SenderFrontOptions {
  /** The ingest replicas' base URLs. */
  urls: readonly string[];
  path: string;
  headers: Record<string, string>;
  /** How long the sender waits for an answer (EventBridge 5 s, Event Grid 30 s). */
  timeoutMs: number;
  /** Stop retrying a delivery after this long (default 90 s). */
  giveUpMs?: number;
}

export class SenderFront {
  readonly attempts: Attempt[] = [];
  readonly #options: SenderFrontOptions;
  #next = 0;

  constructor(options: SenderFrontOptions) {
    this.#options = options;
  }

  /** Delivers `body` until a 2xx answer or the give-up horizon; resolves with what happened. */
  async deliver(body: unknown): Promise<Delivery> {
    const payload = JSON.stringify(body);
    const firstAt = Date.now();
    const giveUpAt = firstAt + (this.#options.giveUpMs ?? 90_000);
    for (let attempt = 1; ; attempt++) {
      const url = this.#options.urls[this.#next++ % this.#options.urls.length] as string;
      const at = Date.now();
      let status: number;
      try {
        const response = await fetch(`${url}${this.#options.path}`, {
          method: "POST",
          headers: this.#options.headers,
          body: payload,
          signal: AbortSignal.timeout(this.#options.timeoutMs),
        });
        await response.body?.cancel();
        status = response.status;
      } catch {
        status = 0; // refused, reset, or no answer within the sender's timeout
      }
      this.attempts.push({ at, ms: Date.now() - at, url, status });
      if (status >= 200 && status < 300) return { firstAt, ackedAt: Date.now(), status, attempts: attempt };
      // A 4xx other than the retried ones would be a test bug: surface it, do not retry it.
      if (status >= 400 && status < 500 && status !== 429) return { firstAt, ackedAt: undefined, status, attempts: attempt };
      if (Date.now() > giveUpAt) return { firstAt, ackedAt: undefined, status, attempts: attempt };
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** Math.min(attempt, 5))));
    }
  }

  /**
   * The longest time, within [from, to), during which the senders got no acknowledgement although
   * deliveries were outstanding: between two consecutive 2xx answers, or from a failed attempt to
   * the next 2xx. Under steady load this is the publish-unavailable window a sender saw.
   */
  unavailableWindowMs(from: number, to: number): number {
    const inWindow = this.attempts.filter((attempt) => attempt.at >= from && attempt.at < to).sort((a, b) => a.at + a.ms - (b.at + b.ms));
    let longest = 0;
    let lastAck: number | undefined;
    let firstFailureSinceAck: number | undefined;
    for (const attempt of inWindow) {
      const answeredAt = attempt.at + attempt.ms;
      if (attempt.status >= 200 && attempt.status < 300) {
        const since = firstFailureSinceAck ?? lastAck;
        if (since !== undefined) longest = Math.max(longest, answeredAt - since);
        lastAck = answeredAt;
        firstFailureSinceAck = undefined;
      } else {
        firstFailureSinceAck ??= attempt.at;
      }
    }
    return longest;
  }

  /** Attempts within [from, to) answered with something other than 2xx (5xx, refused, timed out). */
  failedAttempts(from: number, to: number): number {
    return this.attempts.filter((attempt) => attempt.at >= from && attempt.at < to && !(attempt.status >= 200 && attempt.status < 300)).length;
  }
}
