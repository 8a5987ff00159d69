import { glob, lstat, readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { X509Certificate } from "node:crypto";
import type { CertificateSourceConfig } from "../cells.ts";
import { factsOf, readPem } from "./inspect.ts";
import type { Anchors, PlaceReading } from "./judge.ts";

/** One watched place and what reading it gave. */
export interface ReadPlace {
  /** The `filepath` of the metrics and events: the file, or `<file>#<subject>` for a bundle's certificates. */
  place: string;
  path: string;
  reading: PlaceReading;
}

const CERTIFICATE_FILE = /\.(crt|pem|cer)$/i;
const GLOB = /[*?[\]{}]/;

/**
 * Reads every place a certificate source names. A file is read through symlinks (a Kubernetes
 * projected volume swaps its `..data` link atomically, so each read sees one complete version); a
 * directory gives its certificate files (hidden entries, such as `..data` and the timestamped
 * directories behind it, are skipped so nothing is counted twice); a glob gives its matches. A
 * source that names nothing is one `absent` place; a dangling symlink or a permission problem is
 * `unreadable`, and a file without a parsable certificate `invalid` — three different fixes.
 */
export async function readSource(source: CertificateSourceConfig): Promise<ReadPlace[]> {
  const paths = await expand(source.path);
  if ("absent" in paths) return [{ place: source.path, path: source.path, reading: paths.absent }];
  const places = await Promise.all(paths.files.map((path) => readFilePlaces(path, source.kind)));
  return places.flat();
}

async function expand(path: string): Promise<{ files: string[] } | { absent: PlaceReading }> {
  if (GLOB.test(path)) {
    const files: string[] = [];
    for await (const match of glob(path)) files.push(match);
    files.sort();
    return files.length > 0 ? { files } : { absent: { kind: "absent", detail: `no file matches ${path}` } };
  }
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if (codeOf(error) === "ENOENT" && !(await exists(path))) return { absent: { kind: "absent", detail: `${path} does not exist` } };
    // A dangling symlink or a permission problem: reading the file tells which.
    return { files: [path] };
  }
  if (!info.isDirectory()) return { files: [path] };
  const names = (await readdir(path)).filter((name) => !name.startsWith(".") && CERTIFICATE_FILE.test(name)).sort();
  if (names.length === 0) return { absent: { kind: "absent", detail: `directory ${path} holds no certificate file (*.crt, *.pem, *.cer)` } };
  return { files: names.map((name) => join(path, name)) };
}

async function readFilePlaces(path: string, kind: CertificateSourceConfig["kind"]): Promise<ReadPlace[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    return [{ place: path, path, reading: await readFailure(path, error) }];
  }
  const blocks = readPem(text);
  const parsed = blocks.flatMap((block) => (block.ok ? [block.certificate] : []));
  const broken = blocks.find((block) => !block.ok);
  if (blocks.length === 0) return [{ place: path, path, reading: { kind: "invalid", detail: `${path} holds no PEM certificate` } }];
  if (kind === "leaf") {
    const [first] = blocks;
    if (!first?.ok) return [{ place: path, path, reading: { kind: "invalid", detail: `${path}: ${first?.ok === false ? first.problem : "no certificate"}` } }];
    return [{ place: path, path, reading: { kind: "certificate", certificate: first.certificate, intermediates: parsed.slice(1) } }];
  }
  const seen = new Map<string, number>();
  const places: ReadPlace[] = parsed.map((certificate) => {
    const subject = factsOf(certificate).subject;
    const count = (seen.get(subject) ?? 0) + 1;
    seen.set(subject, count);
    return { place: `${path}#${subject}${count > 1 ? `#${count}` : ""}`, path, reading: { kind: "certificate", certificate, intermediates: [] } };
  });
  if (broken && !broken.ok) places.push({ place: `${path}#${broken.index + 1}`, path, reading: { kind: "invalid", detail: `${path}: ${broken.problem}` } });
  return places;
}

/** Why a file could not be read: gone (`absent`), or there but not readable (`unreadable`). */
async function readFailure(path: string, error: unknown): Promise<PlaceReading> {
  const code = codeOf(error);
  if (code === "ENOENT") {
    if (await exists(path)) return { kind: "unreadable", detail: `${path} is a symlink to something that does not exist` };
    return { kind: "absent", detail: `${path} does not exist` };
  }
  if (code === "EACCES" || code === "EPERM") return { kind: "unreadable", detail: `${path} cannot be read: permission denied` };
  if (code === "EISDIR") return { kind: "invalid", detail: `${path} is a directory` };
  return { kind: "unreadable", detail: `${path} cannot be read (${code ?? "unknown error"})` };
}

/** Reads a trust anchor bundle; undefined when the source has none. */
export async function readAnchors(path: string | undefined): Promise<Anchors> {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    return { ok: false, detail: `${path}: ${codeOf(error) ?? "unreadable"}` };
  }
  const certificates: X509Certificate[] = readPem(text).flatMap((block) => (block.ok ? [block.certificate] : []));
  return certificates.length > 0 ? { ok: true, certificates } : { ok: false, detail: `${path} holds no parsable certificate` };
}

/** Whether the path itself exists (a dangling symlink does). */
async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}
