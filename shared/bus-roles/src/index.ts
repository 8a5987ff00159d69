export {
  inboxPrefixOf,
  parseReplicatorCell,
  roleName,
  rolesOf,
  type BusDeployment,
  type BusRole,
  type RoleKind,
} from "./roles.ts";
export { grantsOf, permissionsOf, type Grant, type Permissions } from "./permissions.ts";
export { JS_API, kvStream, kvSubject } from "./js-api.ts";
export { renderNatsChartValues, renderServerAuthorization, type RoleKey } from "./render.ts";
export { CREDENTIAL_FILES, writeBusCredentials, type RoleCredential } from "./credentials.ts";
