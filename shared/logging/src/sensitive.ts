import { inspect } from "node:util";

const REDACTED = "[REDACTED]";

/**
 * A value that must never be printed: a secret value, an API key, a token. Every way JavaScript
 * turns an object into text (String(), template literals, JSON.stringify, util.inspect, pino)
 * yields "[REDACTED]"; only {@link Sensitive.reveal} returns the value, and each call site of it
 * is a deliberate, greppable decision.
 * @see ../../../shared/SPEC.md section 4 (secrets never travel on the bus)
 */
export class Sensitive<T = string> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  reveal(): T {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Sensitive(${REDACTED})`;
  }
}

export function sensitive<T>(value: T): Sensitive<T> {
  return new Sensitive(value);
}

export { REDACTED };
