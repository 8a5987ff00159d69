import { createHash } from "node:crypto";
import { CredmeshError } from "@credmesh/errors";
import { KEY_VAULT_OBJECT_NAME, KEY_VAULT_OBJECT_NAME_MAX, SECRETS_MANAGER_NAME } from "@credmesh/identifiers";

/**
 * Mapping of source names to Azure Key Vault secret names.
 *
 * Key Vault accepts `[0-9a-zA-Z-]`, 1–127 characters, compared case-insensitively (FORMATS.md E);
 * AWS allows `/_+=.@-` and 512 characters. The mapping is:
 *   1. render the rule's template ({name}, {account}, {region});
 *   2. if the result is already a valid Key Vault name, use it unchanged;
 *   3. otherwise replace every run of invalid characters with "-", trim dashes, and append
 *      "-h" plus the first 10 hex digits of SHA-256 over the rendered name, truncating the
 *      readable part so that the whole fits 127 characters.
 * The hash keeps lossy mappings apart ("a/b" and "a_b" both read "a-b" but get different
 * suffixes). Names that differ only by case stay distinct in AWS but not in Key Vault: that,
 * like any other clash, is caught by the collision check against the destination's provenance
 * tags, never silently merged. The original name is kept in the destination's tags.
 * @see ../../../README.md#name-mapping
 */

const HASH_HEX_DIGITS = 10;

export interface TemplateVariables {
  name: string;
  account?: string;
  region?: string;
  vault?: string;
}

/** Renders a name template. Unknown placeholders are a configuration error. */
export function renderTemplate(template: string, variables: TemplateVariables): string {
  return template.replace(/\{([a-z]+)\}/g, (_match, key: string) => {
    const value = (variables as unknown as Record<string, string | undefined>)[key];
    if (value === undefined) {
      throw new CredmeshError("configuration", `name template placeholder {${key}} has no value`);
    }
    return value;
  });
}

/** The Key Vault name for a source secret, per the documented mapping. */
export function toKeyVaultName(template: string, variables: TemplateVariables): string {
  const rendered = renderTemplate(template, variables);
  if (KEY_VAULT_OBJECT_NAME.test(rendered)) return rendered;
  const suffix = `-h${createHash("sha256").update(rendered, "utf8").digest("hex").slice(0, HASH_HEX_DIGITS)}`;
  const readable = rendered
    .replace(/[^0-9A-Za-z-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, KEY_VAULT_OBJECT_NAME_MAX - suffix.length)
    .replace(/-+$/g, "");
  return `${readable || "s"}${suffix}`;
}

/** Key Vault compares names case-insensitively; so must any lookup keyed by them. */
export function sameKeyVaultName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * The Secrets Manager name for a Key Vault secret: the rendered template, which must be a valid
 * name (Key Vault names always are; a template adding invalid characters is a configuration
 * error).
 */
export function toSecretsManagerName(template: string, variables: TemplateVariables): string {
  const rendered = renderTemplate(template, variables);
  if (!SECRETS_MANAGER_NAME.test(rendered)) {
    throw new CredmeshError("configuration", `name template renders "${rendered}", not a valid Secrets Manager name`);
  }
  return rendered;
}
