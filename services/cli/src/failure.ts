/**
 * A failure the operator must act on (bus unreachable, no replicator answered, a replay that did
 * not complete). Its message is written by the CLI from identifiers only; the process exits 1.
 */
export class CliFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliFailure";
  }
}
