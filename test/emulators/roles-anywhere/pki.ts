/**
 * Throwaway PKIs for tests, made with the `openssl` CLI in a temp dir: root CAs, intermediates and
 * cell certificates with RSA 2048 or EC P-256 keys and chosen validity windows (`openssl ca`, so that
 * a certificate can be made already expired or not yet valid).
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export type KeyType = "rsa" | "ec";

/** A certificate and its key, as files and as PEM text. */
export interface Issued {
  readonly name: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly keyType: KeyType;
}

interface IssueOptions {
  /** The issuing CA; a self-signed root when absent (CAs only). */
  readonly issuer?: Issued;
  readonly keyType?: KeyType;
  /** Default: one hour ago. */
  readonly notBefore?: Date;
  /** Default: 30 days from now. */
  readonly notAfter?: Date;
  /** The DN's other attributes, e.g. `/O=credmesh`; CN comes from the name. */
  readonly subjectPrefix?: string;
}

export interface Pki {
  readonly dir: string;
  /** A CA certificate (basicConstraints CA:TRUE, keyCertSign). */
  ca(commonName: string, options?: IssueOptions): Promise<Issued>;
  /** A cell certificate (CA:FALSE, digitalSignature, clientAuth) issued by `options.issuer`. */
  leaf(commonName: string, options: IssueOptions & { issuer: Issued }): Promise<Issued>;
  /** A certificate that issues others without being a CA (CA:FALSE): what a careless PKI makes. */
  notCa(commonName: string, options: IssueOptions & { issuer: Issued }): Promise<Issued>;
  /** A fresh private key of the type, unrelated to any certificate. */
  key(keyType: KeyType): Promise<{ keyPath: string; keyPem: string }>;
  /** Writes the concatenated PEM of `parts` to a file in the PKI's dir and returns its path. */
  bundle(fileName: string, parts: readonly string[]): Promise<string>;
  remove(): Promise<void>;
}

const CONFIG = (dir: string): string => `
[ ca ]
default_ca = dflt
[ dflt ]
database = ${dir}/index.txt
new_certs_dir = ${dir}/issued
serial = ${dir}/serial
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = no
copy_extensions = none
[ anything ]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
[ ext_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ ext_leaf ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ ext_not_ca ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyCertSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

export async function createPki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), "credmesh-pki-"));
  await mkdir(join(dir, "issued"));
  await writeFile(join(dir, "index.txt"), "");
  await writeFile(join(dir, "serial"), "1000\n");
  const configPath = join(dir, "openssl.cnf");
  await writeFile(configPath, CONFIG(dir));
  let counter = 0;
  // `openssl ca` rewrites index.txt: one signing at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };

  const fileBase = (name: string): string => join(dir, `${String(++counter).padStart(3, "0")}-${name.replace(/[^A-Za-z0-9.-]/g, "_")}`);

  async function newKey(path: string, keyType: KeyType): Promise<string> {
    const algorithm = keyType === "rsa" ? ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] : ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
    await run("openssl", ["genpkey", ...algorithm, "-out", path]);
    return readFile(path, "utf8");
  }

  async function issue(commonName: string, extensions: "ext_ca" | "ext_leaf" | "ext_not_ca", options: IssueOptions): Promise<Issued> {
    const keyType = options.keyType ?? "ec";
    const base = fileBase(commonName);
    const keyPath = `${base}.key`;
    const certPath = `${base}.crt`;
    const keyPem = await newKey(keyPath, keyType);
    const subject = `${options.subjectPrefix ?? "/O=credmesh-test"}/CN=${commonName}`;
    const notBefore = options.notBefore ?? new Date(Date.now() - 3600_000);
    const notAfter = options.notAfter ?? new Date(Date.now() + 30 * 86_400_000);
    const dates = ["-startdate", asn1Time(notBefore), "-enddate", asn1Time(notAfter)];
    if (options.issuer) {
      const issuer = options.issuer;
      await run("openssl", ["req", "-new", "-key", keyPath, "-subj", subject, "-out", `${base}.csr`]);
      await serial(() =>
        run("openssl", [
          "ca", "-batch", "-config", configPath, "-notext", "-rand_serial", "-preserveDN", "-md", "sha256",
          "-extensions", extensions, "-in", `${base}.csr`, "-cert", issuer.certPath, "-keyfile", issuer.keyPath,
          "-out", certPath, ...dates,
        ]),
      );
    } else {
      await run("openssl", ["req", "-new", "-key", keyPath, "-subj", subject, "-out", `${base}.csr`]);
      await serial(() =>
        run("openssl", [
          "ca", "-batch", "-config", configPath, "-notext", "-rand_serial", "-preserveDN", "-md", "sha256", "-selfsign",
          "-extensions", extensions, "-in", `${base}.csr`, "-keyfile", keyPath, "-out", certPath, ...dates,
        ]),
      );
    }
    return { name: commonName, certPath, keyPath, certPem: await readFile(certPath, "utf8"), keyPem, keyType };
  }

  return {
    dir,
    ca: (commonName, options = {}) => issue(commonName, "ext_ca", options),
    leaf: (commonName, options) => issue(commonName, "ext_leaf", options),
    notCa: (commonName, options) => issue(commonName, "ext_not_ca", options),
    key: async (keyType) => {
      const keyPath = `${fileBase(`spare-${keyType}`)}.key`;
      return { keyPath, keyPem: await newKey(keyPath, keyType) };
    },
    bundle: async (fileName, parts) => {
      const path = join(dir, fileName);
      await writeFile(path, parts.join(""));
      return path;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** `YYYYMMDDHHMMSSZ`, the GeneralizedTime form `openssl ca -startdate/-enddate` accepts. */
function asn1Time(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:T]/g, "");
}
