import { sql } from 'kysely';
import pg from 'pg';
import type { Db } from '../db/database.ts';
import type { EnvironmentRow } from '../db/schema.ts';
import { generateSecret, hashSecret, secretPreview } from '../access/secrets.ts';
import { recordAuditEvent, recordAuditEvents, type AuditContext } from '../access/audit.ts';
import { NotFound } from '../errors.ts';

export type KeyKind = 'public' | 'secret';

/** An API key as list views show it: never the secret itself. */
export interface ApiKeyView {
  id: string;
  kind: KeyKind;
  name: string | null;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
}

/** A key just created: the only time `key` is returned. */
export interface CreatedApiKey extends ApiKeyView {
  key: string;
}

/** What a valid key resolves to. */
export interface KeyIdentity {
  keyId: string;
  kind: KeyKind;
  environmentId: string;
  environmentSlug: string;
}

const NOTIFY_CHANNEL = 'herald_api_keys';

function keyPrefix(kind: KeyKind, slug: string): string {
  return `${kind === 'public' ? 'pk' : 'sk'}_${slug}_`;
}

function toView(row: { id: string; kind: KeyKind; name: string | null; key_prefix: string; created_at: Date; revoked_at: Date | null }): ApiKeyView {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    prefix: row.key_prefix,
    created_at: row.created_at.toISOString(),
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}

/**
 * Creates keys of the given kinds for an environment, audited, in the caller's
 * transaction; returns them with their secrets (once).
 */
export async function createApiKeys(
  db: Db,
  environment: Pick<EnvironmentRow, 'id' | 'slug' | 'account_id'>,
  kinds: KeyKind[],
  name: string | null,
  audit: AuditContext,
): Promise<CreatedApiKey[]> {
  const created: CreatedApiKey[] = [];
  for (const kind of kinds) {
    const key = generateSecret(keyPrefix(kind, environment.slug));
    const row = await db
      .insertInto('api_keys')
      .values({ environment_id: environment.id, kind, name, key_hash: hashSecret(key), key_prefix: secretPreview(key, keyPrefix(kind, environment.slug)), revoked_at: null })
      .returningAll()
      .executeTakeFirstOrThrow();
    created.push({ ...toView(row), key });
  }
  await recordAuditEvents(
    db,
    created.map((key) => ({
      ...audit,
      accountId: environment.account_id,
      action: 'api_key.created',
      environmentId: environment.id,
      target: { type: 'api_key', id: key.id },
      data: { kind: key.kind, name: key.name, prefix: key.prefix },
    })),
  );
  return created;
}

export async function listApiKeys(db: Db, environmentId: string): Promise<ApiKeyView[]> {
  const rows = await db.selectFrom('api_keys').selectAll().where('environment_id', '=', environmentId).orderBy('created_at').orderBy('id').execute();
  return rows.map(toView);
}

/**
 * Resolves API keys to their environment. Valid keys are cached in memory; a revocation
 * clears the entry here at once and in other processes through LISTEN/NOTIFY, and the
 * cache is bypassed whenever that notification channel is not connected.
 */
export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, KeyIdentity>();
  private listener?: pg.Client;
  private listening = false;
  private closed = false;
  private readonly db: Db;
  private readonly listenUrl?: string;

  constructor(db: Db, listenUrl?: string) {
    this.db = db;
    this.listenUrl = listenUrl;
  }

  /** Connects the invalidation listener (without it, every lookup reads the database). */
  async start(): Promise<void> {
    if (!this.listenUrl || this.closed) return;
    const client = new pg.Client({ connectionString: this.listenUrl, application_name: 'herald-key-listener' });
    const drop = () => {
      this.listening = false;
      this.cache.clear();
      client.end().catch(() => {});
      if (!this.closed) setTimeout(() => this.start().catch(() => {}), 1000).unref();
    };
    client.on('error', drop);
    client.on('notification', (message) => {
      if (message.payload) this.cache.delete(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    } catch {
      drop();
      return;
    }
    this.listener = client;
    this.cache.clear();
    this.listening = true;
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.listening = false;
    await this.listener?.end().catch(() => {});
  }

  /** The identity behind a presented key, or undefined if it is unknown or revoked. */
  async authenticate(key: string): Promise<KeyIdentity | undefined> {
    const hash = hashSecret(key);
    const cacheKey = hash.toString('hex');
    const cached = this.listening ? this.cache.get(cacheKey) : undefined;
    if (cached) return cached;
    const row = await this.db
      .selectFrom('api_keys')
      .innerJoin('environments', 'environments.id', 'api_keys.environment_id')
      .select(['api_keys.id', 'api_keys.kind', 'api_keys.environment_id', 'environments.slug'])
      .where('api_keys.key_hash', '=', hash)
      .where('api_keys.revoked_at', 'is', null)
      .where('environments.deleted_at', 'is', null)
      .executeTakeFirst();
    if (!row) return undefined;
    const identity: KeyIdentity = { keyId: row.id, kind: row.kind, environmentId: row.environment_id, environmentSlug: row.slug };
    if (this.listening) this.cache.set(cacheKey, identity);
    return identity;
  }

  /**
   * Revokes a key of an environment; takes effect on the next request in every process.
   * Revoking a revoked key changes (and audits) nothing.
   */
  async revoke(environment: Pick<EnvironmentRow, 'id' | 'account_id'>, keyId: string, audit: AuditContext): Promise<ApiKeyView> {
    const row = await this.db.transaction().execute(async (tx) => {
      const revoked = await tx
        .updateTable('api_keys')
        .set({ revoked_at: sql`now()` })
        .where('id', '=', keyId)
        .where('environment_id', '=', environment.id)
        .where('revoked_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      if (revoked) {
        await recordAuditEvent(tx, {
          ...audit,
          accountId: environment.account_id,
          action: 'api_key.revoked',
          environmentId: environment.id,
          target: { type: 'api_key', id: revoked.id },
          data: { kind: revoked.kind, name: revoked.name, prefix: revoked.key_prefix },
        });
      }
      const key = revoked ?? (await tx.selectFrom('api_keys').selectAll().where('id', '=', keyId).where('environment_id', '=', environment.id).executeTakeFirst());
      if (!key) throw new NotFound('API key', keyId);
      await sql`SELECT pg_notify(${NOTIFY_CHANNEL}, ${key.key_hash.toString('hex')})`.execute(tx);
      return key;
    });
    this.cache.delete(row.key_hash.toString('hex'));
    return toView(row);
  }
}
