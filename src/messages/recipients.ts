import { sql } from 'kysely';
import type { EnvTx } from '../db/scoped.ts';
import { recipientKey, refFromReference } from '../engine/recipients.ts';
import { toObject } from '../recipients/objects/service.ts';
import { toUser } from '../recipients/users/service.ts';

/** A Knock `Recipient`: the full User or Object a reference names. */
export type Recipient = Record<string, unknown> & { __typename: string; id: string };

/**
 * Resolves stored recipient references (actors, activity recipients) to the Knock
 * `Recipient` shapes feeds show (names, avatars): one query for users, one for objects.
 * A reference to a recipient that no longer exists resolves to a bare one.
 */
export class RecipientResolver {
  private readonly found = new Map<string, Recipient>();

  /** Loads every recipient the references name. */
  async load(tx: EnvTx, environmentId: string, references: unknown[]): Promise<void> {
    const userIds = new Set<string>();
    const objects = new Map<string, { collection: string; id: string }>();
    for (const reference of references) {
      if (reference === null || reference === undefined) continue;
      const ref = refFromReference(reference);
      if (typeof ref.id !== 'string') continue;
      if (ref.collection) objects.set(recipientKey(ref), { collection: ref.collection, id: ref.id });
      else userIds.add(ref.id);
    }
    if (userIds.size > 0) {
      const users = await tx.selectFrom('users').select(['id', 'properties', 'updated_at']).where('environment_id', '=', environmentId).where('id', 'in', [...userIds]).execute();
      for (const user of users) this.found.set(recipientKey({ id: user.id }), toUser(user) as Recipient);
    }
    if (objects.size > 0) {
      const pairs = [...objects.values()];
      const rows = await tx
        .selectFrom('objects')
        .select(['collection', 'id', 'properties', 'updated_at'])
        .where('environment_id', '=', environmentId)
        .where(sql<boolean>`(collection, id) IN (SELECT * FROM unnest(${pairs.map((p) => p.collection)}::text[], ${pairs.map((p) => p.id)}::text[]))`)
        .execute();
      for (const row of rows) this.found.set(recipientKey({ id: row.id, collection: row.collection }), toObject(row) as unknown as Recipient);
    }
  }

  /** The recipient a reference names (loaded before), or null for no reference. */
  resolve(reference: unknown, fallbackTime: Date): Recipient | null {
    if (reference === null || reference === undefined) return null;
    const ref = refFromReference(reference);
    const known = this.found.get(recipientKey(ref));
    if (known) return known;
    if (ref.collection) return toObject({ collection: ref.collection, id: ref.id, properties: {}, updated_at: fallbackTime }) as unknown as Recipient;
    return toUser({ id: ref.id, properties: {}, updated_at: fallbackTime }) as Recipient;
  }
}
