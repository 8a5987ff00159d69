export {
  KEY_VAULT_NAME,
  KEY_VAULT_NAME_MAX,
  SECRETS_MANAGER_NAME,
  renderTemplate,
  sameKeyVaultName,
  toKeyVaultName,
  toSecretsManagerName,
  type TemplateVariables,
} from "./key-vault-names.ts";
export { TAG_VALUE_MAX, joinTagValue, splitTagValue } from "./tag-chunks.ts";
export {
  MANAGED_BY,
  TAG,
  contentHash,
  provenanceTags,
  readProvenance,
  sameOrigin,
  type OriginRef,
  type Provenance,
  type ReadProvenance,
} from "./provenance.ts";
