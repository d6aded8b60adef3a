import type { Kysely, Selectable } from 'kysely';
import type { Database, EnvironmentRow, PromotionRequestsTable } from '../db/schema.ts';
import type { Db } from '../db/database.ts';
import { Conflict, Forbidden, NotFound } from '../errors.ts';
import { listEnvironments } from '../environments/store.ts';
import { recordAuditEvent, type AuditContext } from '../access/audit.ts';
import type { ResourceType } from './resource-kind.ts';

type Tx = Kysely<Database>;
export type PromotionRequestRow = Selectable<PromotionRequestsTable>;

/** A promotion waiting for (or decided by) a second member (Herald, beyond Knock). */
export function presentPromotionRequest(row: PromotionRequestRow, slugs: Map<string, string>) {
  return {
    id: row.id,
    environment: slugs.get(row.environment_id) ?? row.environment_id,
    kind: row.commit_id ? 'promote_one' : 'promote_all',
    commit_id: row.commit_id,
    resource_types: row.resource_types,
    resource_id: row.resource_key,
    status: row.status,
    requested_by: { email: row.requested_by_email, name: row.requested_by_name },
    decided_by: row.decided_by_email ? { email: row.decided_by_email, name: row.decided_by_name } : null,
    created_at: row.created_at.toISOString(),
    decided_at: row.decided_at?.toISOString() ?? null,
  };
}

/** What a promotion asks for, recorded as a pending request when its target requires approval. */
export interface PromotionAsk {
  commitId?: string;
  types?: ResourceType[];
  key?: string;
}

/** What the audit log says of a request: what it asks to promote. */
const askOf = (row: PromotionRequestRow) => ({
  kind: row.commit_id ? 'promote_one' : 'promote_all',
  commit_id: row.commit_id,
  resource_types: row.resource_types,
  resource_id: row.resource_key,
});

/** Records a pending request (audited as `promotion.requested`, in the caller's transaction). */
export async function createPromotionRequest(tx: Tx, accountId: string, target: EnvironmentRow, ask: PromotionAsk, audit: AuditContext): Promise<PromotionRequestRow> {
  const row = await tx
    .insertInto('promotion_requests')
    .values({
      account_id: accountId,
      environment_id: target.id,
      commit_id: ask.commitId ?? null,
      resource_types: ask.types ?? null,
      resource_key: ask.key ?? null,
      status: 'pending',
      requested_by_email: audit.actor.email,
      requested_by_name: audit.actor.name,
      decided_by_email: null,
      decided_by_name: null,
      decided_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await recordAuditEvent(tx, {
    ...audit,
    accountId,
    action: 'promotion.requested',
    environmentId: target.id,
    target: { type: 'promotion_request', id: row.id },
    data: askOf(row),
  });
  return row;
}

/** Locks a pending request for a decision; the decider must be a different member than the requester. */
export async function claimPendingRequest(tx: Tx, accountId: string, id: string, audit: AuditContext): Promise<PromotionRequestRow> {
  const row = await tx.selectFrom('promotion_requests').selectAll().where('account_id', '=', accountId).where('id', '=', id).forUpdate().executeTakeFirst();
  if (!row) throw new NotFound('Promotion request', id);
  if (row.status !== 'pending') throw new Conflict(`This promotion request is already ${row.status}`, 'already_decided');
  if (row.requested_by_email.toLowerCase() === audit.actor.email.toLowerCase()) {
    throw new Forbidden('A promotion must be approved by a different member than the one who requested it', 'self_approval');
  }
  return row;
}

/** Records the decision on a claimed request (audited as `promotion.approved` / `promotion.rejected`, in the caller's transaction). */
export async function decideRequest(tx: Tx, id: string, status: 'applied' | 'rejected', audit: AuditContext): Promise<PromotionRequestRow> {
  const row = await tx
    .updateTable('promotion_requests')
    .set({ status, decided_by_email: audit.actor.email, decided_by_name: audit.actor.name, decided_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await recordAuditEvent(tx, {
    ...audit,
    accountId: row.account_id,
    action: status === 'applied' ? 'promotion.approved' : 'promotion.rejected',
    environmentId: row.environment_id,
    target: { type: 'promotion_request', id: row.id },
    data: { ...askOf(row), requested_by: { email: row.requested_by_email, name: row.requested_by_name } },
  });
  return row;
}

/** The newest 100 requests, optionally of one status and one target environment. */
export async function listPromotionRequests(db: Db, accountId: string, filter: { status?: string; environment?: string } = {}) {
  const environments = await listEnvironments(db, accountId);
  let query = db.selectFrom('promotion_requests').selectAll().where('account_id', '=', accountId);
  if (filter.status) query = query.where('status', '=', filter.status as PromotionRequestRow['status']);
  if (filter.environment !== undefined) {
    const environment = environments.find((e) => e.slug === filter.environment);
    if (!environment) throw new NotFound('Environment', filter.environment);
    query = query.where('environment_id', '=', environment.id);
  }
  const rows = await query.orderBy('created_at', 'desc').limit(100).execute();
  const slugs = new Map(environments.map((e) => [e.id, e.slug]));
  return rows.map((row) => presentPromotionRequest(row, slugs));
}
