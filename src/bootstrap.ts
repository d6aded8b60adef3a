import { randomBytes } from 'node:crypto';
import { writeFile, chmod } from 'node:fs/promises';
import { hash } from '@node-rs/argon2';
import { sql } from 'kysely';
import type { Db } from './db/database.ts';
import { createApiKeys } from './environments/api-keys.ts';
import { defaultDataControls } from './environments/service.ts';
import { insertEnvironment, listEnvironments } from './environments/store.ts';
import { createServiceToken } from './access/service-tokens.ts';
import { recordAuditEvent, SYSTEM_AUDIT } from './access/audit.ts';
import { ensureDefaultChannels } from './channels/config/service.ts';

/** The secrets made at first start, shown once and optionally written to a file. */
export interface BootstrapSecrets {
  owner: { email: string; password: string };
  service_token: string;
  environments: Record<string, { public_key: string; secret_key: string }>;
}

/** Argon2id, as OWASP recommends for password storage. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, { algorithm: 2 /* Argon2id */ });
}

/**
 * On an empty database: creates the account, the system environments `development`
 * and `production`, an owner member, an owner service token and a key pair per
 * environment, and returns their secrets. Later calls find the account and return
 * only its id. Concurrent starts are serialised by an advisory lock. Every call makes
 * sure the account has its default channels (the in-app feed), so databases created
 * before a default existed get it too.
 */
export async function bootstrap(db: Db, ownerEmail: string): Promise<{ accountId: string; secrets?: BootstrapSecrets }> {
  const found = await db.selectFrom('accounts').select('id').orderBy('created_at').executeTakeFirst();
  if (found) {
    await ensureDefaultChannels(db, found.id);
    return { accountId: found.id };
  }
  const password = randomBytes(18).toString('base64url');
  const passwordHash = await hashPassword(password);
  return db.transaction().execute(async (tx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('herald.bootstrap'))`.execute(tx);
    const existing = await tx.selectFrom('accounts').select('id').orderBy('created_at').executeTakeFirst();
    if (existing) {
      await ensureDefaultChannels(tx, existing.id);
      return { accountId: existing.id };
    }

    const account = await tx.insertInto('accounts').values({ name: 'Herald', slug: 'herald' }).returning('id').executeTakeFirstOrThrow();
    const system = [
      { slug: 'development', name: 'Development', position: 0, label_color: '#33A23E' },
      { slug: 'production', name: 'Production', position: 1, label_color: '#E5484D' },
    ];
    for (const env of system) {
      const environment = await insertEnvironment(tx, { account_id: account.id, owner: 'system', ...env, ...defaultDataControls(env.slug) });
      await recordAuditEvent(tx, {
        ...SYSTEM_AUDIT,
        accountId: account.id,
        action: 'environment.created',
        environmentId: environment.id,
        target: { type: 'environment', id: environment.slug },
        data: { name: environment.name, order: environment.position },
      });
    }
    const member = await tx
      .insertInto('members')
      .values({ account_id: account.id, email: ownerEmail, name: 'Owner', role: 'owner', password_hash: passwordHash })
      .returning('id')
      .executeTakeFirstOrThrow();
    const serviceToken = { name: 'Owner bootstrap token', role: 'owner', createdByMemberId: member.id };
    const { id: tokenId, token } = await createServiceToken(tx, account.id, serviceToken);
    await recordAuditEvent(tx, {
      ...SYSTEM_AUDIT,
      accountId: account.id,
      action: 'service_token.created',
      environmentId: null,
      target: { type: 'service_token', id: tokenId },
      data: { name: serviceToken.name, role: serviceToken.role },
    });

    const environments: BootstrapSecrets['environments'] = {};
    for (const environment of await listEnvironments(tx, account.id)) {
      const [publicKey, secretKey] = await createApiKeys(tx, environment, ['public', 'secret'], 'Bootstrap', SYSTEM_AUDIT);
      environments[environment.slug] = { public_key: publicKey.key, secret_key: secretKey.key };
    }
    await ensureDefaultChannels(tx, account.id);
    return { accountId: account.id, secrets: { owner: { email: ownerEmail, password }, service_token: token, environments } };
  });
}

/** Writes the bootstrap secrets as JSON readable only by the owner of the file (0600). */
export async function writeBootstrapJson(file: string, secrets: BootstrapSecrets): Promise<void> {
  await writeFile(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  await chmod(file, 0o600);
}

/** The one-time banner printed at first start. */
export function formatBootstrapBanner(secrets: BootstrapSecrets): string {
  const lines = [
    '',
    'Herald bootstrap: these secrets are shown once; store them now.',
    `  owner:          ${secrets.owner.email} / ${secrets.owner.password}`,
    `  service token:  ${secrets.service_token}`,
  ];
  for (const [slug, keys] of Object.entries(secrets.environments)) {
    lines.push(`  ${slug}:`, `    public key:   ${keys.public_key}`, `    secret key:   ${keys.secret_key}`);
  }
  return lines.join('\n') + '\n';
}
