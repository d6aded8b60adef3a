/**
 * Keys the Knock CLI writes into the files it pulls and sends back on push: `html_body@`
 * (the file a field was extracted to, next to the inlined field) and its annotations.
 */
function isCliBookkeeping(key: string): boolean {
  return key.endsWith('@') || key === '__readonly' || key === '__annotation';
}

/** `value` with every object's keys sorted, so equal content serialises (and hashes) equally. */
export function withSortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withSortedKeys);
  if (value === null || typeof value !== 'object') return value;
  // fromEntries defines own properties, so a `__proto__` key stays data.
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, withSortedKeys((value as Record<string, unknown>)[key])]),
  );
}

/**
 * Canonical form of resource content: keys sorted, null-valued properties dropped (in
 * Knock's request shapes null and absent mean the same) and the CLI's bookkeeping keys
 * removed, recursively. Array items keep their order, nulls included.
 */
export function canonicalContent(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalContent);
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(record)
      .filter((key) => record[key] !== null && record[key] !== undefined && !isCliBookkeeping(key))
      .sort()
      .map((key) => [key, canonicalContent(record[key])]),
  );
}
