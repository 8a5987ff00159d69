import { randomBytes } from "node:crypto";

/**
 * Finds secret values in text at scale (issue 12 item 6): thousands of values against megabytes
 * of bus messages, log lines, metrics and CLI output, in every form a value could take on its way
 * out — raw, JSON-escaped, URL-encoded, hex, base64 and base64url at any alignment, and one of
 * those inside another (base64 of a JSON document that holds the value).
 *
 * Every value the scanner makes carries a marker and a random core: `LkQ9<core> "\/+=%é…`. The
 * core (base64url) survives JSON escaping and URL encoding unchanged, so a raw search for the
 * marker finds those forms; hex, base64 and percent-encoded runs in the text are decoded (at every
 * alignment) and searched again. The characters after the core make the forms differ, so a
 * redaction that only caught the plain form would not pass.
 */
const MARKER = "LkQ9";
const CORE_LENGTH = 24;

export interface Leak {
  where: string;
  form: string;
  value: string;
}

export class LeakScanner {
  readonly values: string[] = [];
  readonly #cores = new Map<string, string>();

  /** A new secret value the scanner will look for. */
  value(): string {
    const core = randomBytes(18).toString("base64url");
    const value = `${MARKER}${core} "q\\u/+=% é-${randomBytes(4).toString("hex")}`;
    this.values.push(value);
    this.#cores.set(core, value);
    return value;
  }

  /** Leaks of any known value in `text` (`where` names the source in the report). */
  scan(where: string, text: string): Leak[] {
    const leaks: Leak[] = [];
    this.#raw(text, (value) => leaks.push({ where, form: "raw, JSON-escaped or URL-encoded", value }));
    for (const [form, decoded] of decodings(text)) {
      this.#raw(decoded, (value) => leaks.push({ where, form, value }));
      // One level deeper: e.g. base64 of a JSON document, hex of a base64 string.
      for (const [inner, twice] of decodings(decoded)) this.#raw(twice, (value) => leaks.push({ where, form: `${inner} inside ${form}`, value }));
    }
    return leaks;
  }

  #raw(text: string, found: (value: string) => void): void {
    for (let at = text.indexOf(MARKER); at !== -1; at = text.indexOf(MARKER, at + 1)) {
      const value = this.#cores.get(text.slice(at + MARKER.length, at + MARKER.length + CORE_LENGTH));
      if (value !== undefined) found(value);
    }
  }
}

const HEX_RUN = /(?:[0-9a-fA-F]{2}){12,}[0-9a-fA-F]?/g;
const BASE64_RUN = /[A-Za-z0-9+/]{16,}={0,2}/g;
const BASE64URL_RUN = /[A-Za-z0-9_-]{16,}/g;
const PERCENT_RUN = /(?:%[0-9a-fA-F]{2}|[A-Za-z0-9._~-]){12,}/g;

/** Every run of `text` that decodes as hex, base64 or percent-encoding, decoded (each alignment). */
function* decodings(text: string): Generator<[string, string]> {
  for (const match of text.matchAll(HEX_RUN)) {
    for (const shift of [0, 1]) yield ["hex", Buffer.from(match[0].slice(shift), "hex").toString("latin1")];
  }
  for (const [pattern, encoding] of [
    [BASE64_RUN, "base64"],
    [BASE64URL_RUN, "base64url"],
  ] as const) {
    for (const match of text.matchAll(pattern)) {
      // A value inside a longer encoded run starts at any byte: 4 characters cover 3 byte offsets.
      for (let shift = 0; shift < 4; shift++) yield [encoding, Buffer.from(match[0].slice(shift), encoding).toString("latin1")];
    }
  }
  for (const match of text.matchAll(PERCENT_RUN)) {
    if (!match[0].includes("%")) continue;
    try {
      yield ["URL-encoded", decodeURIComponent(match[0])];
    } catch {
      // not valid percent-encoding
    }
  }
}

/** The forms a value can leak in, for the scanner's own check. */
export function leakForms(value: string): Record<string, string> {
  const bytes = Buffer.from(value, "utf8");
  return {
    raw: value,
    "JSON-escaped": JSON.stringify(value).slice(1, -1),
    "URL-encoded": encodeURIComponent(value),
    "URL-encoded, every byte": [...bytes].map((byte) => `%${byte.toString(16).padStart(2, "0").toUpperCase()}`).join(""),
    hex: bytes.toString("hex"),
    "hex, upper case": bytes.toString("hex").toUpperCase(),
    base64: bytes.toString("base64"),
    base64url: bytes.toString("base64url"),
    "base64 at an offset": Buffer.concat([Buffer.from("x:"), bytes]).toString("base64"),
    "base64 of JSON": Buffer.from(JSON.stringify({ value })).toString("base64"),
  };
}
