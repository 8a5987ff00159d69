/** Where a command writes; the process streams in main.ts, buffers in tests. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export type Cell = string | number | boolean | undefined | null;

/**
 * Text from the bus is data, not terminal input: control characters (escape sequences, carriage
 * returns that overwrite a line) are shown as `?` so a crafted record cannot rewrite the screen.
 */
export function clean(value: Cell): string {
  if (value === undefined || value === null || value === "") return "-";
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return String(value).replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}

/** A plain left-aligned table with a header row, columns two spaces apart. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = rows.map((row) => headers.map((_, index) => clean(row[index])));
  const widths = headers.map((header, index) => Math.max(header.length, ...cells.map((row) => (row[index] ?? "").length)));
  const line = (values: readonly string[]): string =>
    values
      .map((value, index) => (index === values.length - 1 ? value : value.padEnd(widths[index] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...cells.map(line)].join("\n");
}

/** ISO 8601 to the second, UTC: what operators paste into log searches. */
export function formatTime(value: string | Date | undefined): string | undefined {
  if (value === undefined) return undefined;
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return typeof value === "string" ? value : undefined;
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Stable, indented JSON for `--json`. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
