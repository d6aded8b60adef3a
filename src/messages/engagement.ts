import type { RawBuilder, SqlBool } from 'kysely';
import type { EnvTx } from '../db/scoped.ts';
import { Invalid } from '../errors.ts';
import * as store from './store.ts';

/**
 * Engagement statuses (seen, read, interacted, archived) are timestamps a recipient's
 * actions set and clear. Each change is recorded as a message event under Knock's name
 * (`message.seen`, `message.unread`, …). Marking what is already so changes nothing and
 * records nothing; every interaction is recorded (with its metadata) and also marks the
 * message read, as Knock's feed client expects.
 */
export type EngagementAction = 'seen' | 'unseen' | 'read' | 'unread' | 'archived' | 'unarchived' | 'interacted';

export const ENGAGEMENT_ACTIONS: readonly EngagementAction[] = ['seen', 'unseen', 'read', 'unread', 'archived', 'unarchived', 'interacted'];

interface Toggle {
  column: store.EngagementColumn;
  set: boolean;
}

const TOGGLES: Record<Exclude<EngagementAction, 'interacted'>, Toggle> = {
  seen: { column: 'seen_at', set: true },
  unseen: { column: 'seen_at', set: false },
  read: { column: 'read_at', set: true },
  unread: { column: 'read_at', set: false },
  archived: { column: 'archived_at', set: true },
  unarchived: { column: 'archived_at', set: false },
};

/** Knock's channel bulk endpoint also names archiving `archive`/`unarchive`. */
const ALIASES: Record<string, EngagementAction> = { archive: 'archived', unarchive: 'unarchived' };

/** The engagement action a path segment names, if any. */
export function engagementAction(name: string): EngagementAction | undefined {
  return (ENGAGEMENT_ACTIONS as readonly string[]).includes(name) ? (name as EngagementAction) : ALIASES[name];
}

/** Interaction metadata: at most 5 key-value pairs, no nested data (Knock's limits). */
export function checkInteractionMetadata(metadata: Record<string, unknown> | null | undefined, field = 'metadata'): void {
  if (!metadata) return;
  if (Object.keys(metadata).length > 5) throw Invalid.field(field, 'must not have more than 5 keys');
  for (const [key, value] of Object.entries(metadata)) {
    if (value !== null && typeof value === 'object') throw Invalid.field(`${field}.${key}`, 'must not be nested data');
  }
}

/** What an engagement change touched. */
export interface EngagementResult {
  /** Every message matched, changed or not. */
  matched: Array<{ id: string; recipient_key: string }>;
  /** The messages whose state changed. */
  changed: string[];
}

/** Applies an engagement action to the messages matching `where`, recording an event per change, in the caller's transaction. */
export async function applyEngagement(
  tx: EnvTx,
  environmentId: string,
  where: RawBuilder<SqlBool>,
  action: EngagementAction,
  metadata?: Record<string, unknown> | null,
): Promise<EngagementResult> {
  const rows = await store.lockEngagement(tx, environmentId, where);
  const matched = rows.map((r) => ({ id: r.id, recipient_key: r.recipient_key }));
  if (action === 'interacted') {
    const ids = rows.map((r) => r.id);
    const newlyRead = rows.filter((r) => r.read_at === null).map((r) => r.id);
    await store.setInteracted(tx, environmentId, ids);
    await store.insertEvents(tx, environmentId, ids, 'message.interacted', metadata ? { metadata } : null);
    await store.insertEvents(tx, environmentId, newlyRead, 'message.read');
    return { matched, changed: ids };
  }
  const { column, set } = TOGGLES[action];
  const changed = rows.filter((r) => (r[column] === null) === set).map((r) => r.id);
  await store.setEngagement(tx, environmentId, changed, column, set);
  await store.insertEvents(tx, environmentId, changed, `message.${action}`);
  return { matched, changed };
}
