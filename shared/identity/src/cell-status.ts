/**
 * The kill switch of a cell on AWS (SPEC section 2, identity-watcher: quarantine). The
 * identity-watcher tags the cell's IAM role with `CellStatus=Quarantined` (and back to `Active` on
 * release); deploy/terraform/aws/quarantine.tf attaches a policy to every replicator role that
 * denies all actions while the role — and so every session of it, including sessions already
 * issued — carries that principal tag. The Terraform roles start `Active`, and the watcher's
 * operator policy allows only these two values. test/integration/terraform-aws.test.ts checks that
 * the Terraform uses exactly these names.
 */
export const CELL_STATUS_TAG = {
  /** The IAM role tag (a principal tag of its sessions: `aws:PrincipalTag/CellStatus`). */
  key: "CellStatus",
  active: "Active",
  quarantined: "Quarantined",
} as const;

export type CellStatus = (typeof CELL_STATUS_TAG)["active" | "quarantined"];
