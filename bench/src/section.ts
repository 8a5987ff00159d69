import type { SettingsOf, SettingsTable } from "./settings.ts";

/** What a running section may use from the bench around it. */
export interface RunContext {
  /** A progress line on stderr (the table goes to stdout). */
  progress(step: string): void;
  /** Registers a stop; stops run last-registered first when the section ends, fails or is aborted. */
  defer(stop: () => Promise<unknown>): void;
  /** Aborted when the bench is interrupted or exceeds its time budget. */
  signal: AbortSignal;
  /** `--quick`: small numbers for trying the bench out; not a measurement. */
  quick: boolean;
}

/**
 * One sub-command of `npm run bench`: its settings, how long it may take, the measurement itself,
 * whether what it measured was correct (the only thing that fails the command), and its table.
 */
export interface Section<T extends SettingsTable, R> {
  /** The sub-command: `npm run bench -- <name>`. */
  readonly name: string;
  /** The heading of its part of the report. */
  readonly title: string;
  readonly settings: T;
  /** Upper bound of a run with these settings, start-up and shutdown included; past it the bench aborts. */
  budgetSeconds(values: SettingsOf<T>): number;
  run(values: SettingsOf<T>, context: RunContext): Promise<R>;
  /** Correctness only (durability, exactness, zero throttling answers, ...), never speed. */
  ok(result: R): boolean;
  /** Markdown lines: its table(s), the checks and the caveats. */
  report(result: R): string[];
}

/** A section of any settings and result, as the dispatcher holds them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the dispatcher pairs each section with its own parsed values
export type AnySection = Section<SettingsTable, any>;

/** Rounds to `digits` decimals, for results meant to be read. */
export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
