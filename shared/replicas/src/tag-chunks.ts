/**
 * Key Vault tag values are capped at 256 characters (FORMATS.md E); AWS names reach 512. A long
 * value is split over `<key>`, `<key>-2`, ... and joined back when read.
 */
export const TAG_VALUE_MAX = 256;

export function splitTagValue(key: string, value: string, maxParts = 2): Record<string, string> {
  const parts: Record<string, string> = {};
  for (let index = 0; index * TAG_VALUE_MAX < value.length || index === 0; index++) {
    if (index >= maxParts) throw new RangeError(`tag ${key} needs more than ${maxParts} parts`);
    parts[index === 0 ? key : `${key}-${index + 1}`] = value.slice(index * TAG_VALUE_MAX, (index + 1) * TAG_VALUE_MAX);
  }
  return parts;
}

export function joinTagValue(key: string, tags: Readonly<Record<string, string>>): string | undefined {
  const first = tags[key];
  if (first === undefined) return undefined;
  let joined = first;
  for (let index = 2; tags[`${key}-${index}`] !== undefined; index++) joined += tags[`${key}-${index}`];
  return joined;
}
