/**
 * AWS identifiers as credmesh accepts them: account ids, region codes and the ARNs it reads —
 * Secrets Manager secrets, IAM roles and STS assumed-role sessions. One definition each, used by
 * the event schemas, the rules, ingest and the replicator alike.
 * @see ../../../../shared/FORMATS.md sections A and F
 */

/** 12 digits. */
export const AWS_ACCOUNT_ID = /^\d{12}$/;

/**
 * A region code: `us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `eu-central-2`… Two letters,
 * one or more words, a number (no region has two digits yet; the pattern allows it).
 */
export const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** Secrets Manager names: ASCII letters, digits and `/_+=.@-`, 1–512 characters (`NameType`). */
export const SECRETS_MANAGER_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

/** AWS partitions: `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`… */
const PARTITION = "aws(?:-[a-z]+)*";

export function isAwsAccountId(value: string): boolean {
  return AWS_ACCOUNT_ID.test(value);
}

export function isAwsRegion(value: string): boolean {
  return AWS_REGION.test(value);
}

/** True for anything ARN-like, full or partial: such a SecretId is never taken for a plain name. */
export function isArn(value: string): boolean {
  return value.startsWith("arn:");
}

/** A full Secrets Manager secret ARN, taken apart. */
export interface SecretArn {
  readonly arn: string;
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** The secret's name: what the ARN holds before AWS's six-character suffix. */
  readonly name: string;
  /** The six random characters AWS appends, so a secret recreated under the same name differs. */
  readonly suffix: string;
}

const SECRET_ARN = new RegExp(`^arn:(${PARTITION}):secretsmanager:([a-z0-9-]+):(\\d{12}):secret:(.+)-([A-Za-z0-9]{6})$`);

/**
 * Takes a full secret ARN (`arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 chars>`)
 * apart; undefined for anything else, including the partial ARN (no suffix) that `SecretId` also
 * accepts — unless its name happens to end in "-" plus six letters or digits: that ambiguity is
 * AWS's (FORMATS.md F), so prefer ARNs that AWS itself wrote. Names may contain dashes: only the
 * last suffix is removed.
 */
export function parseSecretArn(value: string): SecretArn | undefined {
  const match = SECRET_ARN.exec(value);
  if (match === null) return undefined;
  const [, partition = "", region = "", account = "", name = "", suffix = ""] = match;
  if (!isAwsRegion(region)) return undefined;
  return { arn: value, partition, region, account, name, suffix };
}

/** The secret name inside a full ARN, else undefined (a plain name or a partial ARN). */
export function secretNameOfArn(value: string): string | undefined {
  return parseSecretArn(value)?.name;
}

/** The ARN AWS gives a secret; the inverse of {@link parseSecretArn}. */
export function formatSecretArn(parts: Omit<SecretArn, "arn" | "partition"> & { partition?: string }): string {
  return `arn:${parts.partition ?? "aws"}:secretsmanager:${parts.region}:${parts.account}:secret:${parts.name}-${parts.suffix}`;
}

/** An IAM role ARN, `arn:aws:iam::<account>:role/<path/><name>`. */
export interface RoleArn {
  readonly arn: string;
  readonly partition: string;
  readonly account: string;
  /** Path and name, e.g. `service-role/credmesh-replicator`. */
  readonly role: string;
}

/**
 * An IAM role ARN. Role paths and names: letters, digits and `+=,.@_-`, separated by `/` (IAM's
 * `roleNameType` and path, 1–512 together).
 */
export const IAM_ROLE_ARN = new RegExp(`^arn:(${PARTITION}):iam::(\\d{12}):role/([\\w+=,.@/-]{1,512})$`);

export function parseRoleArn(value: string): RoleArn | undefined {
  const match = IAM_ROLE_ARN.exec(value);
  if (match === null) return undefined;
  const [, partition = "", account = "", role = ""] = match;
  return { arn: value, partition, account, role };
}

/** An STS assumed-role session ARN, as CloudTrail names the caller: `arn:aws:sts::<account>:assumed-role/<role>/<session>`. */
export interface AssumedRoleArn {
  readonly arn: string;
  readonly partition: string;
  readonly account: string;
  /** The role's name (without its path: STS drops it). */
  readonly role: string;
  /** The role session name, e.g. `credmesh-<cell>`. */
  readonly session: string;
}

const ASSUMED_ROLE_ARN = new RegExp(`^arn:(${PARTITION}):sts::(\\d{12}):assumed-role/([\\w+=,.@-]{1,64})/([\\w+=,.@-]{2,64})$`);

export function parseAssumedRoleArn(value: string): AssumedRoleArn | undefined {
  const match = ASSUMED_ROLE_ARN.exec(value);
  if (match === null) return undefined;
  const [, partition = "", account = "", role = "", session = ""] = match;
  return { arn: value, partition, account, role, session };
}
