import { sql } from 'kysely';
import type { EnvTx } from '../db/scoped.ts';

/** The Postgres channel on which committed new messages are announced to every API process. */
export const MESSAGES_CHANNEL = 'herald_messages';

/** What is announced: enough to route it to the right feed subscribers, nothing more. */
export interface MessageAnnouncement {
  /** environment id */
  e: string;
  /** channel id */
  c: string;
  /** recipient key (`user:<id>` or `object:<collection>:<id>`) */
  r: string;
  /** message id */
  m: string;
}

/** Announces a new message inside its transaction: listeners hear of it only if it commits. */
export async function announceMessage(tx: EnvTx, announcement: MessageAnnouncement): Promise<void> {
  await sql`SELECT pg_notify(${MESSAGES_CHANNEL}, ${JSON.stringify(announcement)})`.execute(tx);
}
