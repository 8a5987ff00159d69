import { expect } from "vitest";
import { InvalidEventError } from "./wire.ts";

/** The InvalidEventError `call` throws; fails the test if it returns. For this package's tests. */
export function rejection(call: () => unknown): InvalidEventError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEventError);
    return error as InvalidEventError;
  }
  throw new Error("expected a rejection");
}
