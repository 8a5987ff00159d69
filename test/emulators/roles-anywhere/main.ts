/**
 * CLI entry: `node test/emulators/roles-anywhere/main.ts --trust-anchor-file ca.pem [--port 8444]
 * [--region us-east-1] [--account-id 123456789012] [--role '{"arn":"…","commonNames":["cell-1"]}']…
 * [--profile-duration-seconds 3600]`.
 *
 * Prints one JSON line (endpoint, region, trustAnchorArn, profileArn, roleArn) once the endpoint
 * accepts connections, so a harness can wait for that line. Stops cleanly on SIGTERM or SIGINT.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startRolesAnywhereEmulator, type EmulatedRole } from "./emulator.ts";

const { values } = parseArgs({
  options: {
    "trust-anchor-file": { type: "string" },
    port: { type: "string" },
    region: { type: "string" },
    "account-id": { type: "string" },
    role: { type: "string", multiple: true },
    "profile-duration-seconds": { type: "string" },
  },
  strict: true,
});

const trustAnchorFile = values["trust-anchor-file"];
if (trustAnchorFile === undefined) {
  process.stderr.write("--trust-anchor-file is required\n");
  process.exit(2);
}
const roles = (values.role ?? []).map((json) => JSON.parse(json) as EmulatedRole);
const emulator = await startRolesAnywhereEmulator({
  trustAnchorPem: readFileSync(trustAnchorFile, "utf8"),
  ...(values.port === undefined ? {} : { port: Number(values.port) }),
  ...(values.region === undefined ? {} : { region: values.region }),
  ...(values["account-id"] === undefined ? {} : { accountId: values["account-id"] }),
  ...(roles.length === 0 ? {} : { roles }),
  ...(values["profile-duration-seconds"] === undefined ? {} : { profileDurationSeconds: Number(values["profile-duration-seconds"]) }),
});
process.stdout.write(
  `${JSON.stringify({
    endpoint: emulator.endpoint,
    region: emulator.region,
    trustAnchorArn: emulator.trustAnchorArn,
    profileArn: emulator.profileArn,
    roleArn: emulator.roleArn,
  })}\n`,
);
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    void emulator.stop().then(() => process.exit(0));
  });
}
