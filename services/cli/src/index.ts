export { runCli, describeFailure } from "./cli.ts";
export { parseInvocation, UsageError, type Command, type Invocation } from "./args.ts";
export type { Io } from "./output.ts";
