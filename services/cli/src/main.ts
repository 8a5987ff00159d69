/**
 * `credmesh <command>`: the local mesh (`up`) and the operator commands against a running mesh.
 * scripts/credmesh runs this file after bootstrapping the pinned Node.
 */
import { runCli } from "./cli.ts";

const code = await runCli(process.argv.slice(2), {
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
});
process.exitCode = code;
