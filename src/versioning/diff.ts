import jsonPatch from 'fast-json-patch';
import type { Content } from './resource-kind.ts';

/** One RFC 6902 JSON Patch operation. */
export type DiffOperation = jsonPatch.Operation;

/** The change from `before` to `after` as a JSON Patch (RFC 6902); `before` null means created. */
export function diffContent(before: Content | null, after: Content | null): DiffOperation[] {
  if (before === null && after === null) return [];
  if (before === null) return [{ op: 'add', path: '', value: after }];
  if (after === null) return [{ op: 'remove', path: '' }];
  return jsonPatch.compare(before, after);
}
