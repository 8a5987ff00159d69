export {
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
