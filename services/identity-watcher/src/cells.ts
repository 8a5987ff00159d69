import { readFileSync } from "node:fs";
import { ConfigError } from "@credmesh/config";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parseDuration } from "./durations.ts";

/**
 * The cells the identity-watcher watches and may quarantine, from `CREDMESH_IDENTITY_CELLS_FILE`
 * (YAML or JSON), validated at boot. Per cell: its certificates (files, directories, globs; vault
 * certificates reach the watcher through the lifecycle stream), the cloud principals its
 * quarantine acts on, and which automatic policies are on.
 * @see ../../../README.md#identity-watcher
 */
export interface CellConfig {
  id: string;
  certificates: CertificateSourceConfig[];
  /** The cell's Key Vault certificates, by vault and name (lifecycle events of others are ignored). */
  vaultCertificates: Array<{ vault: string; name: string }>;
  /** The cell's IAM role: tagged CellStatus=Quarantined and given the revoke-older-sessions deny. */
  aws: { roleArn: string } | undefined;
  /** The cell's Entra service principal (object id) or application (appId): disabled while quarantined. */
  azure: { servicePrincipalId: string } | { appId: string } | undefined;
  policies: PolicyConfig;
}

export interface CertificateSourceConfig {
  /** A file, a directory (its `*.crt`, `*.pem`, `*.cer` files, hidden entries skipped) or a glob. */
  path: string;
  /** `leaf`: the first certificate of each file is judged, the rest are its chain. `bundle`: every certificate is judged on its dates. */
  kind: "leaf" | "bundle";
  expectedCommonName: string | undefined;
  trustAnchorFile: string | undefined;
  /** Renewal point: a fraction of the lifetime elapsed, or a duration before notAfter. */
  renewAt: { fraction: number } | { beforeMs: number };
  /** near_expiry thresholds before notAfter, largest first. */
  nearExpiryMs: number[];
}

export interface PolicyConfig {
  expiredCertificate: boolean;
  certificateMismatch: boolean;
  accessDenied: { threshold: number; windowMs: number } | undefined;
  clockSkew: { toleranceSeconds: number } | undefined;
}

export const DEFAULT_RENEW_FRACTION = 2 / 3;
export const DEFAULT_NEAR_EXPIRY = ["30d", "7d", "1d"];

const duration = z.string().refine((text) => parseDuration(text) !== undefined, "a duration such as 30d, 12h, 90m");
const renewAt = z.string().refine((text) => /^\d{1,2}(\.\d+)?%$/.test(text) || parseDuration(text) !== undefined, "a percentage of the lifetime (67%) or a duration before expiry (30d)");

const certificateSchema = z.strictObject({
  path: z.string().min(1),
  kind: z.enum(["leaf", "bundle"]).default("leaf"),
  expectedCommonName: z.string().min(1).max(64).optional(),
  trustAnchorFile: z.string().min(1).optional(),
  renewAt: renewAt.optional(),
  nearExpiry: z.array(duration).max(8).optional(),
});

const cellSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.@-]{2,64}$/, "letters, digits and _.@- (2 to 64)"),
  certificates: z.array(certificateSchema).default([]),
  vaultCertificates: z.array(z.strictObject({ vault: z.string().regex(/^[0-9a-zA-Z-]{3,24}$/), name: z.string().regex(/^[0-9a-zA-Z-]{1,127}$/) })).default([]),
  aws: z.strictObject({ roleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, "an IAM role ARN") }).optional(),
  azure: z
    .union([z.strictObject({ servicePrincipalId: z.uuid() }), z.strictObject({ appId: z.uuid() })])
    .optional(),
  policies: z
    .strictObject({
      expiredCertificate: z.boolean().default(false),
      certificateMismatch: z.boolean().default(false),
      accessDenied: z
        .union([z.literal(false), z.literal(true), z.strictObject({ threshold: z.number().int().min(1).max(10_000).default(5), window: duration.default("5m") })])
        .default(false),
      clockSkew: z.union([z.boolean(), z.strictObject({ toleranceSeconds: z.number().int().min(0).max(3_600) })]).default(false),
    })
    .default({ expiredCertificate: false, certificateMismatch: false, accessDenied: false, clockSkew: false }),
});

const fileSchema = z.strictObject({ cells: z.array(cellSchema).min(1) });

/** Reads and validates the cells file; a problem names the path in the file and never echoes values. */
export function loadCells(path: string): CellConfig[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new ConfigError([`CREDMESH_IDENTITY_CELLS_FILE="${path}" cannot be read`]);
  }
  return parseCells(text, path);
}

export function parseCells(text: string, what = "cells file"): CellConfig[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch {
    throw new ConfigError([`${what} is not valid YAML or JSON`]);
  }
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${what}: ${issue.path.join(".") || "(root)"}: ${issue.message}`));
  }
  const cells = result.data.cells.map(toCellConfig);
  const ids = cells.map((cell) => cell.id);
  const duplicate = ids.find((id, index) => ids.indexOf(id) !== index);
  if (duplicate !== undefined) throw new ConfigError([`${what}: cell ${duplicate} is listed twice`]);
  return cells;
}

function toCellConfig(cell: z.infer<typeof cellSchema>): CellConfig {
  const accessDenied = cell.policies.accessDenied;
  const clockSkew = cell.policies.clockSkew;
  return {
    id: cell.id,
    certificates: cell.certificates.map((source) => ({
      path: source.path,
      kind: source.kind,
      expectedCommonName: source.expectedCommonName,
      trustAnchorFile: source.trustAnchorFile,
      renewAt: renewPoint(source.renewAt),
      nearExpiryMs: (source.nearExpiry ?? DEFAULT_NEAR_EXPIRY).map((text) => parseDuration(text) ?? 0).sort((a, b) => b - a),
    })),
    vaultCertificates: cell.vaultCertificates,
    aws: cell.aws,
    azure: cell.azure,
    policies: {
      expiredCertificate: cell.policies.expiredCertificate,
      certificateMismatch: cell.policies.certificateMismatch,
      accessDenied:
        accessDenied === false
          ? undefined
          : accessDenied === true
            ? { threshold: 5, windowMs: 300_000 }
            : { threshold: accessDenied.threshold, windowMs: parseDuration(accessDenied.window) ?? 300_000 },
      clockSkew: clockSkew === false ? undefined : clockSkew === true ? { toleranceSeconds: 0 } : clockSkew,
    },
  };
}

function renewPoint(text: string | undefined): CertificateSourceConfig["renewAt"] {
  if (text === undefined) return { fraction: DEFAULT_RENEW_FRACTION };
  if (text.endsWith("%")) return { fraction: Number(text.slice(0, -1)) / 100 };
  return { beforeMs: parseDuration(text) ?? 0 };
}
