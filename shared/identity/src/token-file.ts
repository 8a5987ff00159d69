import { open, stat } from "node:fs/promises";
import { CredmeshError } from "@credmesh/errors";
import { Sensitive, type Logger } from "@credmesh/logging";

/**
 * A token read from a file that the platform rotates: a Kubernetes projected service-account
 * token (EKS IRSA's `AWS_WEB_IDENTITY_TOKEN_FILE`, Azure workload identity's
 * `AZURE_FEDERATED_TOKEN_FILE`). Calling it returns the file's current content.
 */
export interface TokenFile {
  (): Promise<Sensitive<string>>;
  readonly path: string;
  /** How many times the file's content has been read (not stat'ed) so far; for tests and diagnostics. */
  reads(): number;
}

/**
 * Reads a rotated token file, and reads it again only when it changed.
 *
 * Every call stats the file, so a rotation is seen by the very next call and a stale token is never
 * served past one; the content is re-read only when device, inode, size, mtime or ctime differ.
 * The kubelet rotates projected volumes by swapping a symlink to a new directory (a new inode);
 * ctime also catches an in-place rewrite that preserved mtime and size. Concurrent callers share
 * one read. The token is never put into an error or a log line; the path is.
 *
 * Failures are `identity_unavailable` (retryable: the volume may not be mounted or written yet)
 * except a permission problem, which is `configuration`.
 */
export function tokenFromFile(path: string, options: { logger?: Logger; what?: string } = {}): TokenFile {
  const what = options.what ?? "token file";
  let cached: { stamp: string; token: Sensitive<string> } | undefined;
  let inFlight: Promise<Sensitive<string>> | undefined;
  let reads = 0;

  async function load(): Promise<Sensitive<string>> {
    const stamp = stampOf(await stat(path, { bigint: true }).catch((error: unknown) => fail(error)));
    if (cached?.stamp === stamp) return cached.token;
    // Read from one handle and take the stamp from that handle, so content and stamp always belong
    // together even when the file is swapped between the stat above and the read.
    const handle = await open(path, "r").catch((error: unknown) => fail(error));
    try {
      const [current, buffer] = await Promise.all([handle.stat({ bigint: true }), handle.readFile()]);
      reads += 1;
      const text = buffer.toString("utf8").trim();
      if (text === "") {
        throw new CredmeshError("identity_unavailable", `${what} ${path} is empty`);
      }
      const rotated = cached !== undefined;
      cached = { stamp: stampOf(current), token: new Sensitive(text) };
      if (rotated) options.logger?.info({ path }, `${what} changed; using the rotated token`);
      return cached.token;
    } catch (error) {
      if (error instanceof CredmeshError) throw error;
      return fail(error);
    } finally {
      await handle.close();
    }
  }

  function fail(error: unknown): never {
    const code = (error as { code?: unknown }).code;
    if (code === "EACCES" || code === "EPERM" || code === "EISDIR") {
      throw new CredmeshError("configuration", `${what} ${path} cannot be read (${code})`, { cause: error, code });
    }
    const detail = typeof code === "string" ? ` (${code})` : "";
    throw new CredmeshError("identity_unavailable", `${what} ${path} is not readable${detail}`, {
      cause: error,
      ...(typeof code === "string" ? { code } : {}),
    });
  }

  const read = async (): Promise<Sensitive<string>> => {
    inFlight ??= load().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  return Object.assign(read, { path, reads: () => reads });
}

function stampOf(stats: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}
