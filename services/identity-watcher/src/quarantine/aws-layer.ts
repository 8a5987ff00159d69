import {
  GetRolePolicyCommand,
  IAMClient,
  ListRoleTagsCommand,
  NoSuchEntityException,
  PutRolePolicyCommand,
  TagRoleCommand,
} from "@aws-sdk/client-iam";
import type { AwsCredentialIdentityProvider } from "@aws-sdk/types";
import type { QuarantineRecord } from "@credmesh/events";
import { CELL_STATUS_TAG } from "@credmesh/identity";

/** The inline role policy that revokes the sessions issued before the quarantine. */
export const REVOKE_SESSIONS_POLICY = "credmesh-quarantine-revoke-older-sessions";

/**
 * AWS's documented way to revoke a role's active sessions: deny everything to sessions whose token
 * was issued before a moment (`aws:TokenIssueTime`). Role tags may not reach sessions issued before
 * they changed, this does; sessions issued after the moment (after a release) are unaffected.
 */
export function revokeOlderSessionsPolicy(before: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "CredmeshQuarantineRevokeOlderSessions",
        Effect: "Deny",
        Action: ["*"],
        Resource: ["*"],
        Condition: { DateLessThan: { "aws:TokenIssueTime": before } },
      },
    ],
  });
}

/** The role name of a role ARN (`arn:aws:iam::123:role/path/name` → `name`). */
export function roleNameOf(roleArn: string): string {
  return roleArn.split("/").at(-1) ?? roleArn;
}

/** What a layer did, for the reply to the operator and the metrics. */
export interface LayerResult {
  status: "applied" | "failed" | "not_configured";
  detail?: string;
}

/**
 * The AWS layer of a cell's quarantine, through IAM: the role is tagged `CellStatus=Quarantined`
 * (released: `Active`) and, on quarantine, gets the revoke-older-sessions deny dated at the
 * quarantine. The deny stays after a release (sessions issued before the quarantine stay revoked;
 * new ones are not affected) and is never moved to an earlier date, so a later revocation by an
 * operator is not undone. Idempotent: applying the same record twice changes nothing.
 */
export class AwsQuarantineLayer {
  readonly #iam: IAMClient;

  constructor(options: { credentials: AwsCredentialIdentityProvider; endpoint?: string; region?: string }) {
    this.#iam = new IAMClient({
      region: options.region ?? "us-east-1",
      credentials: options.credentials,
      maxAttempts: 2,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    });
  }

  async apply(roleArn: string, record: QuarantineRecord, signal: AbortSignal): Promise<void> {
    const RoleName = roleNameOf(roleArn);
    const quarantined = record.state === "quarantined";
    if (quarantined) {
      const current = await this.#revokedBefore(RoleName, signal);
      if (current === undefined || Date.parse(current) < Date.parse(record.at)) {
        await this.#iam.send(new PutRolePolicyCommand({ RoleName, PolicyName: REVOKE_SESSIONS_POLICY, PolicyDocument: revokeOlderSessionsPolicy(record.at) }), { abortSignal: signal });
      }
    }
    await this.#iam.send(
      new TagRoleCommand({ RoleName, Tags: [{ Key: CELL_STATUS_TAG.key, Value: quarantined ? CELL_STATUS_TAG.quarantined : CELL_STATUS_TAG.active }] }),
      { abortSignal: signal },
    );
  }

  /** The role's CellStatus tag, as IAM has it. */
  async status(roleArn: string, signal: AbortSignal): Promise<string | undefined> {
    const output = await this.#iam.send(new ListRoleTagsCommand({ RoleName: roleNameOf(roleArn) }), { abortSignal: signal });
    return output.Tags?.find((tag) => tag.Key === CELL_STATUS_TAG.key)?.Value;
  }

  /** The date of the current revoke policy, if the role has one. */
  async #revokedBefore(RoleName: string, signal: AbortSignal): Promise<string | undefined> {
    try {
      const output = await this.#iam.send(new GetRolePolicyCommand({ RoleName, PolicyName: REVOKE_SESSIONS_POLICY }), { abortSignal: signal });
      const document = JSON.parse(decodeURIComponent(output.PolicyDocument ?? "{}")) as { Statement?: Array<{ Condition?: { DateLessThan?: Record<string, string> } }> };
      return document.Statement?.[0]?.Condition?.DateLessThan?.["aws:TokenIssueTime"];
    } catch (error) {
      if (error instanceof NoSuchEntityException) return undefined;
      throw error;
    }
  }

  destroy(): void {
    this.#iam.destroy();
  }
}
