/**
 * In-repo IAM Roles Anywhere CreateSession endpoint and a throwaway PKI for tests. See README.md
 * beside this file.
 */
export { startRolesAnywhereEmulator } from "./emulator.ts";
export type { EmulatedRole, RecordedRequest, RolesAnywhereEmulator, RolesAnywhereEmulatorOptions } from "./emulator.ts";
export { createPki, type Issued, type KeyType, type Pki } from "./pki.ts";
