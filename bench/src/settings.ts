import { parseArgs } from "node:util";

/**
 * One setting of a bench sub-command: a whole number or a comma-separated list of them, read from
 * `--<name>`, else from its environment variable, else the default (or the `quick` value under
 * `--quick`, for trying the bench out; quick numbers are not measurements to publish).
 */
export type Setting =
  | { readonly kind: "int"; readonly default: number; readonly quick?: number; readonly min: number; readonly max: number; readonly env?: string; readonly help: string }
  | {
      readonly kind: "ints";
      readonly default: readonly number[];
      readonly quick?: readonly number[];
      readonly min: number;
      readonly max: number;
      readonly env?: string;
      readonly help: string;
    }
  | { readonly kind: "path"; readonly env?: string; readonly help: string };

export type SettingsTable = Readonly<Record<string, Setting>>;

/** The parsed values of a table: numbers, number lists, and optional paths. */
export type SettingsOf<T extends SettingsTable> = {
  -readonly [K in keyof T]: T[K] extends { kind: "int" } ? number : T[K] extends { kind: "ints" } ? number[] : string | undefined;
};

/** A bad flag or value; the bench stops before starting anything and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * Parses the flags of one sub-command against its table. Unknown flags, values that are not whole
 * numbers and values out of range are usage errors naming the setting.
 */
export function parseSettings<T extends SettingsTable>(
  table: T,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { values: SettingsOf<T>; quick: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        quick: { type: "boolean" },
        ...Object.fromEntries(Object.keys(table).map((name) => [name, { type: "string" as const }])),
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const flags: Record<string, string | boolean | undefined> = parsed.values;
  const quick = flags.quick === true;
  const values: Record<string, number | number[] | string | undefined> = {};
  for (const [name, setting] of Object.entries(table)) {
    const flag = flags[name];
    const raw = typeof flag === "string" ? flag : setting.env === undefined ? undefined : env[setting.env];
    values[name] = valueOf(name, setting, raw === "" ? undefined : raw, quick);
  }
  return { values: values as SettingsOf<T>, quick };
}

function valueOf(name: string, setting: Setting, raw: string | undefined, quick: boolean): number | number[] | string | undefined {
  const where = `--${name}${setting.env === undefined ? "" : ` / ${setting.env}`}`;
  switch (setting.kind) {
    case "path":
      return raw;
    case "int":
      return raw === undefined ? (quick ? (setting.quick ?? setting.default) : setting.default) : whole(where, raw, setting.min, setting.max);
    case "ints": {
      if (raw === undefined) return [...(quick ? (setting.quick ?? setting.default) : setting.default)];
      const list = raw.split(",").map((part) => whole(where, part.trim(), setting.min, setting.max));
      if (list.length === 0) throw new UsageError(`${where} needs at least one value`);
      return list;
    }
  }
}

function whole(where: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (raw === "" || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${where} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** The usage text of a table, one line per setting. */
export function usageOf(table: SettingsTable): string[] {
  return Object.entries(table).map(([name, setting]) => {
    const fallback =
      setting.kind === "path" ? "" : ` (default ${setting.kind === "int" ? setting.default : setting.default.join(",")}${setting.quick === undefined ? "" : `; --quick ${Array.isArray(setting.quick) ? setting.quick.join(",") : String(setting.quick)}`})`;
    return `  --${name}${setting.env === undefined ? "" : ` / ${setting.env}`}: ${setting.help}${fallback}`;
  });
}
