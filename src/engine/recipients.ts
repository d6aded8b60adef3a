/** How the engine names recipients: Knock's recipient references and Herald's row keys. */

/** A user (collection undefined) or an object in a collection. */
export interface RecipientRef {
  id: string;
  collection?: string;
}

/** What a trigger may name: a user id, or `{id, collection?, ...inline properties}`. */
export type RecipientInput = string | ({ id: string; collection?: string } & Record<string, unknown>);

export function refOf(input: RecipientInput): RecipientRef {
  if (typeof input === 'string') return { id: input };
  return input.collection ? { id: input.id, collection: input.collection } : { id: input.id };
}

/** Inline properties to identify before running, if the input carries any beyond the reference. */
export function inlinePropertiesOf(input: RecipientInput): Record<string, unknown> | undefined {
  if (typeof input === 'string') return undefined;
  const { id: _id, collection: _collection, ...rest } = input;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

/** `user:<id>` or `object:<collection>:<id>` — one key per recipient, used for dedupe, cancel, batch and throttle. */
export function recipientKey(ref: RecipientRef): string {
  return ref.collection ? `object:${ref.collection}:${ref.id}` : `user:${ref.id}`;
}

/** Knock's `RecipientReference`: a user id string, or `{id, collection}` for an object. */
export function recipientReference(ref: RecipientRef): string | { id: string; collection: string } {
  return ref.collection ? { id: ref.id, collection: ref.collection } : ref.id;
}

/** Parses a stored reference (the JSON written from `recipientReference`). */
export function refFromReference(reference: unknown): RecipientRef {
  if (typeof reference === 'string') return { id: reference };
  const r = reference as { id: string; collection?: string };
  return r.collection ? { id: r.id, collection: r.collection } : { id: r.id };
}
