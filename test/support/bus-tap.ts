import { decodeAuditRecord, type AuditRecord } from "@credmesh/events";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";

export interface TappedMessage {
  subject: string;
  data: string;
  headers: string;
}

/**
 * Subscribes to every subject (`>`) and keeps every message with its headers, so a test can
 * prove that no secret value ever travelled on the bus — the same view `nats sub '>'` gives.
 */
export class BusTap {
  readonly messages: TappedMessage[] = [];
  readonly #subscription: Subscription;
  readonly #waiters: Array<{ predicate: (message: TappedMessage) => boolean; resolve: (message: TappedMessage) => void }> = [];

  constructor(nc: NatsConnection, subject = ">") {
    this.#subscription = nc.subscribe(subject, {
      callback: (_error, msg) => {
        const headers = msg.headers ? [...msg.headers].map(([key, values]) => `${key}: ${values.join(",")}`).join("\n") : "";
        const message = { subject: msg.subject, data: new TextDecoder().decode(msg.data), headers };
        this.messages.push(message);
        for (let index = this.#waiters.length - 1; index >= 0; index--) {
          const waiter = this.#waiters[index];
          if (waiter?.predicate(message)) {
            this.#waiters.splice(index, 1);
            waiter.resolve(message);
          }
        }
      },
    });
  }

  /** The first message (already seen or future) for which `predicate` holds. */
  waitFor(predicate: (message: TappedMessage) => boolean, timeoutMs = 30_000): Promise<TappedMessage> {
    const seen = this.messages.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching bus message within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        predicate,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
      });
    });
  }

  /** Audit records on credmesh.audit.>, read with the schema every consumer uses (a record that does not decode fails the test). */
  auditRecords(): AuditRecord[] {
    return this.messages.filter((message) => message.subject.startsWith("credmesh.audit.")).map((message) => auditRecordOf(message));
  }

  /** Waits for the audit record of the mutation whose CloudEvent id (EventBridge id) is `eventId`. */
  async auditFor(eventId: string, timeoutMs = 30_000): Promise<AuditRecord> {
    const message = await this.waitFor((m) => m.subject.startsWith("credmesh.audit.") && auditRecordOf(m).eventId === eventId, timeoutMs);
    return auditRecordOf(message);
  }

  stop(): void {
    this.#subscription.unsubscribe();
  }
}

function auditRecordOf(message: TappedMessage): AuditRecord {
  return decodeAuditRecord(new TextEncoder().encode(message.data));
}
