import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../db/database.ts';
import type { EnvironmentRow } from '../db/schema.ts';
import { NotFound } from '../errors.ts';
import { findEnvironmentBySlug } from '../environments/store.ts';
import { inEnvironment } from '../db/scoped.ts';
import { RecipientResolver } from '../messages/recipients.ts';
import { auditContextOf, recordAuditEvent } from './audit.ts';
import { recipientView } from './obfuscation.ts';

/**
 * What the dashboard's read views of recipient data and messages (Herald, under
 * `/mgmt/v1/environments/{slug}/…`) share: the environment and its data controls, and
 * the audited reveal of one record (environments.md §4).
 */

export const VIEW_TAGS = ['Dashboard views'];

/** The `:environment_slug` path parameter of every view. */
export const EnvironmentSlug = Type.String({ maxLength: 100 });

/** The body of a reveal: why (kept in the audit log). */
export const RevealBody = Type.Object({ reason: Type.String({ minLength: 3, maxLength: 500 }) }, { additionalProperties: false });

/** The environment a view reads (with its `hide_pii_data` / `hide_message_content`), or 404. */
export async function viewEnvironment(db: Db, accountId: string, slug: string): Promise<EnvironmentRow> {
  const environment = await findEnvironmentBySlug(db, accountId, slug);
  if (!environment) throw new NotFound('Environment', slug);
  return environment;
}

/** Records a reveal (`record.revealed`, with the reason); call before any unmasked data leaves. */
export async function recordReveal(
  db: Db,
  request: Pick<FastifyRequest, 'principal' | 'id'>,
  accountId: string,
  environmentId: string,
  target: { type: string; id: string },
  reason: string,
): Promise<void> {
  await db.transaction().execute((tx) =>
    recordAuditEvent(tx, {
      ...auditContextOf(request),
      accountId,
      action: 'record.revealed',
      environmentId,
      target,
      data: { reason },
    }),
  );
}

/**
 * Expands recipient references (a user id, `{id, collection}`) into the users and objects
 * they name, loaded in one go, each as the environment lets it be seen (masked under
 * `hide_pii_data`; ids stay). A reference to a recipient since deleted expands to a bare one.
 */
export async function recipientExpander(db: Db, environment: EnvironmentRow, references: unknown[]) {
  const resolver = new RecipientResolver();
  await inEnvironment(db, environment.id, (tx) => resolver.load(tx, environment.id, references));
  return (reference: unknown, fallbackTime: Date) => {
    const recipient = resolver.resolve(reference, fallbackTime);
    return recipient ? recipientView(recipient, environment) : null;
  };
}
