import type { Cloud } from "@credmesh/bus-names";
import { ruleById, scopeOfOrigin, type Rule, type RuleSet } from "@credmesh/config";
import { CredmeshError } from "@credmesh/errors";
import type { MutationEvent } from "@credmesh/events";

/**
 * A replicator re-checks every mutation against its own configuration before anything else —
 * before a lease, a credential or a cloud call — because a message on the bus is a claim, not a
 * fact: whoever may publish on `credmesh.mutation.*` could name any rule and any origin. The
 * mutation is admitted only when
 * - it is for this cell's destination,
 * - the rule it names exists here and replicates that origin cloud to that destination, and
 * - the origin is in scope of exactly that rule, decided by the one scope function ingest uses
 *   (@credmesh/config `scopeOfOrigin`: the first matching rule, on the identifiers the replicator
 *   will read).
 * Otherwise it is refused as `out_of_scope` (permanent: dead-lettered, audited, counted).
 * @see ../../../README.md#security-model
 */
export function admittedRule(event: MutationEvent, rules: RuleSet, destination?: Cloud): Rule {
  const { data } = event;
  if (destination !== undefined && data.destination.cloud !== destination) {
    throw outOfScope(`the mutation is for destination ${data.destination.cloud}; this cell replicates to ${destination}`);
  }
  const rule = ruleById(rules, data.rule);
  if (!rule) throw outOfScope(`rule ${data.rule} is not configured in this cell`);
  if (rule.source.cloud !== data.origin.cloud || rule.destination.cloud !== data.destination.cloud) {
    throw outOfScope(`rule ${rule.id} replicates ${rule.source.cloud} → ${rule.destination.cloud}, not ${data.origin.cloud} → ${data.destination.cloud}`);
  }
  const scope = scopeOfOrigin(rules, data.origin);
  if (!scope.inScope) {
    const why = scope.reason === "inconsistent_origin" ? `its identifiers disagree (${scope.detail ?? "inconsistent"})` : scope.reason === "excluded_name" ? "its name is never replicated" : "no rule covers it";
    throw outOfScope(`the origin secret is not in scope of rule ${rule.id}: ${why}`);
  }
  if (scope.rule.id !== rule.id) throw outOfScope(`the origin secret belongs to rule ${scope.rule.id}, not to rule ${rule.id}`);
  return rule;
}

function outOfScope(message: string): CredmeshError {
  return new CredmeshError("out_of_scope", message);
}
