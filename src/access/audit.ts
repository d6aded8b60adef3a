import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { AuditEventRow } from '../db/schema.ts';
import { authorOf, SYSTEM_AUTHOR, type Author } from '../versioning/author.ts';
import type { Principal } from './service-tokens.ts';

/** Everything the audit log records. */
export const AUDIT_ACTIONS = [
  'account.settings_changed',
  'environment.created',
  'environment.settings_changed',
  // hide_pii_data / hide_message_content: obfuscation changes are called out on their own.
  'environment.data_controls_changed',
  'environment.rolled_back',
  'api_key.created',
  'api_key.revoked',
  'service_token.created',
  'service_token.revoked',
  'member.invited',
  'member.role_changed',
  'member.removed',
  'member.joined',
  'member.signed_in',
  'member.signed_out',
  'permission_group.created',
  'permission_group.updated',
  'permission_group.deleted',
  'commit.created',
  'commit.promoted',
  'promotion.requested',
  'promotion.approved',
  'promotion.rejected',
  'commit.reverted',
  'workflow.activation_changed',
  'record.revealed',
  'channel.created',
  'channel.settings_changed',
  'variable.created',
  'variable.updated',
  'variable.deleted',
  'signing_key.created',
  'signing_key.revoked',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who acted: a member, a service token (carrying its creator's email), or Herald itself. */
export type Actor = Author;

/** Who is making a change and in which request; passed from the routes down to the services. */
export interface AuditContext {
  actor: Actor;
  requestId: string | null;
}

/** Who a principal is in the audit log: a signed-in member names themself; a service token names the token. */
export function actorOf(principal: Principal): Actor {
  if (principal.type === 'member') {
    return { kind: 'member', id: principal.memberId, email: principal.memberEmail ?? '', name: principal.memberName };
  }
  return authorOf(principal);
}

/** The audit context of a management request (its principal and request id). */
export function auditContextOf(request: { principal: Principal; id: string }): AuditContext {
  return { actor: actorOf(request.principal), requestId: request.id };
}

/** Changes Herald makes on its own (first start). */
export const SYSTEM_AUDIT: AuditContext = { actor: SYSTEM_AUTHOR, requestId: null };

/** One event, written in the transaction of the change it records. */
export interface AuditEvent extends AuditContext {
  accountId: string;
  action: AuditAction;
  environmentId: string | null;
  target: { type: string; id: string | null };
  /** Small details: before/after settings, ids, counts. Never secrets or recipient data. */
  data?: Record<string, unknown>;
}

/** Appends one event to the audit log, in the caller's transaction. */
export async function recordAuditEvent(tx: Db, event: AuditEvent): Promise<void> {
  await recordAuditEvents(tx, [event]);
}

/** Appends events in one statement, in the caller's transaction. */
export async function recordAuditEvents(tx: Db, events: AuditEvent[]): Promise<void> {
  // An event outside the change's transaction could outlive a rolled-back change, or be lost after a committed one.
  if (!tx.isTransaction) throw new Error('Audit events are written in the transaction of the change they record');
  if (events.length === 0) return;
  await tx
    .insertInto('audit_events')
    .values(
      events.map((event) => ({
        account_id: event.accountId,
        actor_kind: event.actor.kind,
        actor_id: event.actor.id,
        actor_email: event.actor.email,
        actor_name: event.actor.name,
        action: event.action,
        environment_id: event.environmentId,
        target_type: event.target.type,
        target_id: event.target.id,
        data: JSON.stringify(event.data ?? {}),
        request_id: event.requestId,
      })),
    )
    .execute();
}

/** The mgmt API's AuditEvent shape. */
export interface AuditEventView {
  id: string;
  action: string;
  actor: { type: Actor['kind']; id: string | null; email: string | null; name: string | null };
  environment: string | null;
  target: { type: string; id: string | null };
  data: Record<string, unknown>;
  request_id: string | null;
  created_at: string;
}

function present(row: AuditEventRow & { environment_slug: string | null }): AuditEventView {
  return {
    id: row.id,
    action: row.action,
    actor: { type: row.actor_kind, id: row.actor_id, email: row.actor_email, name: row.actor_name },
    environment: row.environment_slug,
    target: { type: row.target_type, id: row.target_id },
    data: row.data,
    request_id: row.request_id,
    created_at: row.created_at.toISOString(),
  };
}

export interface AuditFilters {
  /** A member's or token's id, or an email (case-insensitive). */
  actor?: string;
  actions?: string[];
  /** Environment slug. */
  environment?: string;
  /** Inclusive lower bound on created_at. */
  from?: string;
  /** Exclusive upper bound on created_at. */
  to?: string;
  /** Cursors: the seq of the event a page continues from. */
  after?: string;
  before?: string;
  limit: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An account's audit events, newest first: `after` pages towards older events, `before`
 * towards newer ones. Returns the seq cursors of the neighbouring pages.
 */
export async function listAuditEvents(
  db: Db,
  accountId: string,
  filters: AuditFilters,
): Promise<{ entries: AuditEventView[]; after: string | null; before: string | null }> {
  let query = db
    .selectFrom('audit_events as a')
    .leftJoin('environments as e', 'e.id', 'a.environment_id')
    .selectAll('a')
    .select('e.slug as environment_slug')
    .where('a.account_id', '=', accountId);
  if (filters.actor !== undefined) {
    const actor = filters.actor;
    query = UUID.test(actor) ? query.where('a.actor_id', '=', actor) : query.where(sql`lower(a.actor_email)`, '=', actor.toLowerCase());
  }
  if (filters.actions?.length) query = query.where('a.action', 'in', filters.actions);
  if (filters.environment !== undefined) query = query.where('e.slug', '=', filters.environment);
  if (filters.from !== undefined) query = query.where('a.created_at', '>=', new Date(filters.from));
  if (filters.to !== undefined) query = query.where('a.created_at', '<', new Date(filters.to));
  if (filters.after !== undefined) query = query.where('a.seq', '<', filters.after);
  if (filters.before !== undefined) query = query.where('a.seq', '>', filters.before);
  const backwards = filters.before !== undefined && filters.after === undefined;
  const fetched = await query.orderBy('a.seq', backwards ? 'asc' : 'desc').limit(filters.limit + 1).execute();
  const hasMore = fetched.length > filters.limit;
  const page = fetched.slice(0, filters.limit);
  if (backwards) page.reverse();
  return {
    entries: page.map(present),
    after: (backwards || hasMore) && page.length ? page[page.length - 1].seq : null,
    before: (backwards ? hasMore : filters.after !== undefined) && page.length ? page[0].seq : null,
  };
}
