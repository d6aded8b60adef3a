import { randomUUID } from 'node:crypto';
import { signUserToken } from '@knocklabs/node';
import { expect } from 'vitest';
import { inEnvironment } from '../../src/db/scoped.ts';
import type { MessageStatus } from '../../src/db/schema.ts';
import { announceMessage } from '../../src/messages/notify.ts';
import type { TestHerald } from '../support/herald.ts';

/**
 * Messages written as the engine writes them (a row, its first event, and for in-app
 * messages the announcement, in one transaction), so these tests need no workflow run.
 */

export async function environmentIds(herald: TestHerald): Promise<Record<string, string>> {
  const rows = await herald.db.selectFrom('environments').select(['id', 'slug']).where('account_id', '=', herald.accountId).execute();
  return Object.fromEntries(rows.map((row) => [row.slug, row.id]));
}

/** The account's in-app feed channel (created if the account has none yet). */
export async function inAppChannel(herald: TestHerald, key = 'in-app-feed'): Promise<string> {
  await herald.db
    .insertInto('channels')
    .values({ account_id: herald.accountId, key, name: 'In-app feed', type: 'in_app_feed', provider: 'herald', description: null })
    .onConflict((oc) => oc.columns(['account_id', 'key']).doNothing())
    .execute();
  const row = await herald.db.selectFrom('channels').select('id').where('account_id', '=', herald.accountId).where('key', '=', key).executeTakeFirstOrThrow();
  return row.id;
}

export interface MessageFixture {
  environmentId: string;
  channelId: string;
  user?: string;
  /** An object recipient instead of a user. */
  object?: { id: string; collection: string };
  channelType?: string;
  status?: MessageStatus;
  tenant?: string | null;
  data?: Record<string, unknown>;
  workflowKey?: string;
  categories?: string[];
  actors?: unknown[];
  body?: string;
  actionUrl?: string;
  activities?: unknown[];
  insertedAt?: Date;
  workflowRunId?: string;
  workflowRecipientRunId?: string;
  /** Announce on `herald_messages` (as the engine does for in-app messages); default true. */
  announce?: boolean;
}

/** Inserts one message as a worker would; returns its id. */
export async function insertMessage(herald: TestHerald, m: MessageFixture): Promise<string> {
  const id = randomUUID();
  const recipient = m.object ?? m.user ?? 'user-1';
  const recipientKey = m.object ? `object:${m.object.collection}:${m.object.id}` : `user:${recipient as string}`;
  const runId = m.workflowRunId ?? randomUUID();
  const recipientRunId = m.workflowRecipientRunId ?? randomUUID();
  const body = m.body ?? `Hello ${typeof recipient === 'string' ? recipient : recipient.id}`;
  const channelType = m.channelType ?? 'in_app_feed';
  const data = m.data ?? {};
  const actors = m.actors ?? [];
  const content =
    channelType === 'in_app_feed'
      ? { blocks: [{ type: 'markdown', name: 'body', content: body, rendered: `<p>${body}</p>` }], ...(m.actionUrl ? { action_url: m.actionUrl } : {}) }
      : channelType === 'email'
        ? { subject_line: 'Hi', html_body: `<p>${body}</p>`, text_body: body, from: 'herald@example.com', to: 'user@example.com' }
        : { body, to: '+15550000000' };
  const activities = m.activities ?? [{ id: runId, actor: actors[0] ?? null, recipient, data, inserted_at: (m.insertedAt ?? new Date()).toISOString() }];
  await inEnvironment(herald.db, m.environmentId, async (tx) => {
    const status = m.status ?? (channelType === 'in_app_feed' ? 'delivered' : 'sent');
    await tx
      .insertInto('messages')
      .values({
        environment_id: m.environmentId,
        id,
        workflow_recipient_run_id: recipientRunId,
        workflow_run_id: runId,
        workflow_key: m.workflowKey ?? 'comment-created',
        version_id: randomUUID(),
        step_ref: `${channelType}_1`,
        channel_id: m.channelId,
        channel_type: channelType,
        recipient: JSON.stringify(recipient),
        recipient_key: recipientKey,
        actors: JSON.stringify(actors),
        tenant: m.tenant ?? null,
        status,
        data: JSON.stringify(data),
        content: JSON.stringify(content),
        metadata: JSON.stringify({ categories: m.categories ?? [], activities, total_activities: activities.length, total_actors: actors.length }),
        ...(m.insertedAt ? { inserted_at: m.insertedAt, updated_at: m.insertedAt } : {}),
      })
      .execute();
    await tx.insertInto('message_events').values({ environment_id: m.environmentId, message_id: id, type: `message.${status}`, data: null }).execute();
    if (m.announce ?? channelType === 'in_app_feed') {
      await announceMessage(tx, { e: m.environmentId, c: m.channelId, r: recipientKey, m: id });
    }
  });
  return id;
}

/** Creates a signing key in an environment (through the management API) and answers its private key. */
export async function createSigningKey(herald: TestHerald, environmentSlug: string): Promise<{ id: string; privateKey: string }> {
  const response = await herald.request('POST', `/mgmt/v1/environments/${environmentSlug}/signing_keys`, { token: herald.secrets.service_token });
  expect(response.statusCode, response.body).toBe(201);
  const body = response.json() as { id: string; private_key: string };
  return { id: body.id, privateKey: body.private_key };
}

/** A user token as a customer's backend signs it (Knock's SDK helper). */
export function userToken(privateKey: string, userId: string, expiresInSeconds = 3600): Promise<string> {
  return signUserToken(userId, { signingKey: privateKey, expiresInSeconds });
}

/** Polls until `check` returns a value (not undefined/false) or the deadline passes. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
