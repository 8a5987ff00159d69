import { scopeOfOrigin, type RuleSet } from "@credmesh/config";
import { InvalidEventError, buildMutationEvent, type AwsOrigin, type MutationData } from "@credmesh/events";
import { draftFromCloudTrail } from "./cloudtrail.ts";
import type { DraftResult, MutationDraft } from "./draft.ts";
import { DETAIL_TYPES, looksLikeEnvelope, parseEnvelope } from "./envelope.ts";
import { isJsonObject, type JsonObject } from "../json/fields.ts";
import { draftFromLabelUpdated } from "./label-updated.ts";
import { rejected, type Normalized } from "./outcomes.ts";
import { draftFromTransformer, looksLikeTransformerBody } from "./transformer.ts";

export interface NormalizeOptions {
  /** The clock for transformer bodies without an eventTime; defaults to the system clock. */
  readonly now?: () => Date;
}

/**
 * Turns one EventBridge API-destination delivery (a full Secrets Manager event, or an
 * input-transformer body) into exactly one decision: a canonical mutation event to publish, a
 * deliberate ignore, out of scope, or a rejection. Pure: no I/O, the clock is injected.
 *
 * The order of decisions is part of the contract:
 * 1. shape and envelope — a broken or foreign body is rejected before anything else;
 * 2. ignore decisions (failed or read-only calls, rotation progress, tags, staged versions, …) —
 *    an event that would not be replicated for any secret is answered 200 and counted, without
 *    looking up its secret. Its identifiers may be missing (failed calls), and a 422 for an event
 *    that needs no action anyway would only add noise to EventBridge's failed-invocation metric and
 *    dead-letter queue;
 * 3. secret resolution and scope — only for events that would publish, so an out-of-scope 422
 *    always means "this change was not replicated because no rule covers the secret";
 * 4. the event is built and validated against the schema.
 *
 * @see ../../../../../shared/SPEC.md section 2 (ingest), ../../../../../shared/FORMATS.md sections A and B
 */
export function normalizeEventBridge(body: unknown, rules: RuleSet, options: NormalizeOptions = {}): Normalized {
  if (!isJsonObject(body)) return rejected("malformed_body", ["(root): expected a JSON object"]);
  const draft = draftFrom(body, options.now ?? (() => new Date()));
  return draft.outcome === "draft" ? scopeAndBuild(draft.draft, rules) : draft;
}

function draftFrom(body: JsonObject, now: () => Date): DraftResult {
  if (looksLikeEnvelope(body)) {
    const envelope = parseEnvelope(body);
    if ("outcome" in envelope) return envelope;
    return envelope.detailType === DETAIL_TYPES.labelUpdated ? draftFromLabelUpdated(envelope) : draftFromCloudTrail(envelope);
  }
  if (looksLikeTransformerBody(body)) return draftFromTransformer(body, now);
  return rejected("unrecognized_body", [
    "(root): expected an EventBridge event (detail-type, source, detail) or an input-transformer body (arn)",
  ]);
}

function scopeAndBuild(draft: MutationDraft, rules: RuleSet): Normalized {
  const { secret } = draft;
  const origin: AwsOrigin = {
    cloud: "aws",
    account: secret.account,
    region: secret.region,
    secretId: secret.arn ?? secret.name,
    secretName: secret.name,
    ...(draft.versionId === undefined ? {} : { versionId: draft.versionId }),
  };
  // The same check every consumer repeats on the mutation (a replicator refuses one out of scope).
  const scope = scopeOfOrigin(rules, origin);
  if (!scope.inScope) return { outcome: "out_of_scope", reason: scope.reason, secret: { account: secret.account, region: secret.region, name: secret.name } };

  const data: MutationData = {
    kind: draft.kind,
    rule: scope.rule.id,
    destination: { cloud: scope.rule.destination.cloud },
    origin,
    ...(draft.deletion === undefined ? {} : { deletion: draft.deletion }),
    trigger: draft.trigger,
  };
  try {
    return { outcome: "mutation", event: buildMutationEvent({ ...(draft.id === undefined ? {} : { id: draft.id }), data }) };
  } catch (error) {
    // The readers check every field the schema constrains; this catches what they could not
    // foresee (e.g. a 600-character name). The schema's issues are paths and rules, not values.
    if (error instanceof InvalidEventError) return rejected("schema_violation", error.issues);
    throw error;
  }
}
