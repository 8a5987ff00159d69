/**
 * A reader for the Prometheus text exposition format (what `/metrics` serves), just enough to
 * compare two scrapes: which series of a metric moved, and by how much.
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export type Scrape = readonly Sample[];

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

export function parsePrometheusText(text: string): Scrape {
  const samples: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match?.[1] || match[3] === undefined) throw new Error(`not a Prometheus sample line: ${line}`);
    samples.push({ name: match[1], labels: parseLabels(match[2] ?? ""), value: parseValue(match[3]) });
  }
  return samples;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL_PAIR.lastIndex = 0;
  let consumed = 0;
  for (let pair = LABEL_PAIR.exec(text); pair; pair = LABEL_PAIR.exec(text)) {
    labels[pair[1] as string] = (pair[2] as string).replace(/\\(["\\n])/g, (_all, escaped: string) => (escaped === "n" ? "\n" : escaped));
    consumed = LABEL_PAIR.lastIndex;
  }
  if (consumed !== text.length) throw new Error(`malformed label set: {${text}}`);
  return labels;
}

function parseValue(text: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  // prom-client writes NaN as "Nan" (e.g. for a gauge without data); both spellings occur.
  if (text.toLowerCase() === "nan") return Number.NaN;
  const value = Number(text);
  if (Number.isNaN(value)) throw new Error(`not a sample value: ${text}`);
  return value;
}

function key(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

/** The value of the one series of `name` whose labels are exactly `labels`; 0 if it was never exported. */
export function valueOf(scrape: Scrape, name: string, labels: Record<string, string>): number {
  const wanted = key(labels);
  return scrape.find((sample) => sample.name === name && key(sample.labels) === wanted)?.value ?? 0;
}

export interface SeriesChange {
  labels: Record<string, string>;
  delta: number;
}

/**
 * Every series of `name` whose value differs between two scrapes (a series that first appears
 * counts from 0), sorted by labels so that a test can compare the whole list with toEqual.
 */
export function changes(before: Scrape, after: Scrape, name: string): SeriesChange[] {
  const out: SeriesChange[] = [];
  for (const sample of after) {
    if (sample.name !== name) continue;
    const delta = sample.value - valueOf(before, name, sample.labels);
    if (delta !== 0) out.push({ labels: sample.labels, delta });
  }
  return out.sort((a, b) => key(a.labels).localeCompare(key(b.labels)));
}
