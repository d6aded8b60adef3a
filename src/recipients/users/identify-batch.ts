import type { Db } from '../../db/database.ts';
import type { UserRow } from '../../db/schema.ts';
import { GroupCommit } from '../../db/group-commit.ts';
import { inEnvironment } from '../../db/scoped.ts';
import * as store from './store.ts';

export interface PlainIdentify {
  id: string;
  properties: Record<string, unknown>;
}

export type IdentifyCommitter = GroupCommit<PlainIdentify, UserRow>;

/**
 * Group-commits identifies that carry only properties: concurrent ones of an environment
 * become one multi-row upsert in one transaction. Rows are written in id order so two
 * batches in flight never deadlock; if a batch fails, its items are retried one by one
 * so only the faulty item fails.
 */
export function createIdentifyCommitter(db: Db): IdentifyCommitter {
  const write = (environmentId: string, items: PlainIdentify[]) =>
    inEnvironment(db, environmentId, async (tx) => {
      const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const rows = await store.upsertUsers(tx, environmentId, sorted);
      const byId = new Map(rows.map((row) => [row.id, row]));
      return items.map((item) => byId.get(item.id)!);
    });
  return new GroupCommit<PlainIdentify, UserRow>({
    conflictKey: (item) => item.id,
    flush: async (environmentId, items) => {
      try {
        return await write(environmentId, items);
      } catch (error) {
        if (items.length === 1) return [error instanceof Error ? error : new Error(String(error))];
        const settled = await Promise.allSettled(items.map((item) => write(environmentId, [item])));
        return settled.map((s) => (s.status === 'fulfilled' ? s.value[0] : s.reason instanceof Error ? s.reason : new Error(String(s.reason))));
      }
    },
  });
}
