import { VERSION_ID } from "./aws-ids.ts";
import { drafted, firstPlainName, firstSecretArn, locateSecret, type DraftResult } from "./draft.ts";
import { DETAIL_TYPES, type Envelope } from "./envelope.ts";
import { requiredString, stringField } from "../json/fields.ts";
import { ignored, rejected } from "./outcomes.ts";

/**
 * The native "Secret Label Updated" event: `detail: {name, labelUpdated, versionId}` and the
 * secret ARN in `resources`. It is the only AWS event that carries the real versionId, and it is
 * sent for every label except AWSPENDING and AWSPREVIOUS.
 * @see ../../../../../shared/FORMATS.md section A.5
 */
export function draftFromLabelUpdated(envelope: Envelope): DraftResult {
  const { detail } = envelope;
  const issues: string[] = [];
  const label = requiredString(detail, "labelUpdated", "detail.labelUpdated", issues);
  const versionId = stringField(detail, "versionId", "detail.versionId", issues, VERSION_ID);
  const detailName = stringField(detail, "name", "detail.name", issues);
  if (issues.length > 0 || label === undefined) return rejected("invalid_detail", issues);

  if (label !== "AWSCURRENT") return ignored("label_not_current");
  if (versionId === undefined) return rejected("invalid_detail", ["detail.versionId: required when AWSCURRENT moves"]);

  const arn = firstSecretArn(envelope.resources);
  const secret = locateSecret(envelope, arn, arn?.name ?? firstPlainName([detailName]));
  if (!secret) return rejected("unresolvable_secret", ["resources, detail.name: no Secrets Manager secret ARN or name"]);

  return drafted({
    id: envelope.id,
    kind: "upsert",
    secret,
    versionId,
    trigger: {
      source: "aws.eventbridge",
      eventId: envelope.id,
      // The native event has no eventName; its detail-type names it.
      eventName: DETAIL_TYPES.labelUpdated,
      eventTime: envelope.time,
    },
  });
}
