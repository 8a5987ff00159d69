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
