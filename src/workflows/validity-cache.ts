/** How many (type, sha) answers are kept; the oldest is forgotten first. */
const MAX_ENTRIES = 10_000;
const validity = new Map<string, boolean>();

/**
 * Whether the content with this sha is valid, computed once: a sha is the hash of the
 * content, so the answer never changes, and lists of resources need not re-parse every
 * template and schema on each read.
 */
export function rememberValidity(type: string, sha: string, compute: () => boolean): boolean {
  if (sha === '') return compute();
  const key = `${type}:${sha}`;
  const known = validity.get(key);
  if (known !== undefined) return known;
  const valid = compute();
  validity.set(key, valid);
  if (validity.size > MAX_ENTRIES) validity.delete(validity.keys().next().value!);
  return valid;
}
