import { createHash, createPublicKey, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { EnvironmentRow } from '../db/schema.ts';
import { recordAuditEvent, type AuditContext } from '../access/audit.ts';
import { NotFound } from '../errors.ts';

/**
 * Signing keys of an environment (Knock's "enhanced security mode"): RS256 key pairs whose
 * private key signs user tokens (`X-Knock-User-Token`, e.g. with `@knocklabs/node`'s
 * `signUserToken`) and whose public key Herald keeps to verify them. Herald stores only
 * the public key and a fingerprint; the private key is shown once, at creation.
 */

const generateRsaKeyPair = promisify(generateKeyPair);

/** A signing key as list views show it: never the private key. */
export interface SigningKeyView {
  id: string;
  /** `SHA256:` + the start of the public key's fingerprint, to recognise a key. */
  fingerprint: string;
  public_key: string;
  created_at: string;
  revoked_at: string | null;
}

/** A key just created: the only time the private key is returned. */
export interface CreatedSigningKey extends SigningKeyView {
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as `signUserToken` takes it. */
  private_key: string;
  /** The same PEM, base64-encoded (one line, e.g. for KNOCK_SIGNING_KEY); the Knock SDKs accept either. */
  private_key_base64: string;
}

interface SigningKeyRow {
  id: string;
  public_key_pem: string;
  key_prefix: string;
  created_at: Date;
  revoked_at: Date | null;
}

function toView(row: SigningKeyRow): SigningKeyView {
  return {
    id: row.id,
    fingerprint: row.key_prefix,
    public_key: row.public_key_pem,
    created_at: row.created_at.toISOString(),
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}

/** SHA-256 of the public key (DER, SubjectPublicKeyInfo), shortened: enough to tell keys apart. */
export function fingerprintOf(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('base64url').slice(0, 16)}`;
}

/** Generates an RSA-2048 key pair for RS256, stores the public half and answers the private one (once). Audited. */
export async function createSigningKey(db: Db, environment: Pick<EnvironmentRow, 'id' | 'slug' | 'account_id'>, audit: AuditContext): Promise<CreatedSigningKey> {
  // Asynchronous: generating an RSA key takes tens of milliseconds, off the event loop.
  const { publicKey, privateKey } = await generateRsaKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const fingerprint = fingerprintOf(publicKey);
  const row = await db.transaction().execute(async (tx) => {
    const inserted = await tx
      .insertInto('signing_keys')
      .values({ environment_id: environment.id, public_key_pem: publicKey, key_prefix: fingerprint, revoked_at: null })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAuditEvent(tx, {
      ...audit,
      accountId: environment.account_id,
      action: 'signing_key.created',
      environmentId: environment.id,
      target: { type: 'signing_key', id: inserted.id },
      data: { fingerprint },
    });
    return inserted;
  });
  return { ...toView(row), private_key: privateKey, private_key_base64: Buffer.from(privateKey).toString('base64') };
}

/** An environment's signing keys, revoked ones included, oldest first. */
export async function listSigningKeys(db: Db, environmentId: string): Promise<SigningKeyView[]> {
  const rows = await db.selectFrom('signing_keys').selectAll().where('environment_id', '=', environmentId).orderBy('created_at').orderBy('id').execute();
  return rows.map(toView);
}

/**
 * Revokes a signing key: tokens it signed are refused from then on. Revoking a revoked
 * key changes (and audits) nothing.
 */
export async function revokeSigningKey(db: Db, environment: Pick<EnvironmentRow, 'id' | 'account_id'>, keyId: string, audit: AuditContext): Promise<SigningKeyView> {
  const row = await db.transaction().execute(async (tx) => {
    const revoked = await tx
      .updateTable('signing_keys')
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
        action: 'signing_key.revoked',
        environmentId: environment.id,
        target: { type: 'signing_key', id: revoked.id },
        data: { fingerprint: revoked.key_prefix },
      });
      return revoked;
    }
    return tx.selectFrom('signing_keys').selectAll().where('id', '=', keyId).where('environment_id', '=', environment.id).executeTakeFirst();
  });
  if (!row) throw new NotFound('Signing key', keyId);
  return toView(row);
}

/**
 * The public keys that verify user tokens in an environment (its signing keys not
 * revoked), newest first. For the feed API's user-token check.
 */
export async function activeSigningKeys(db: Db, environmentId: string): Promise<Array<{ id: string; publicKeyPem: string }>> {
  const rows = await db
    .selectFrom('signing_keys')
    .select(['id', 'public_key_pem'])
    .where('environment_id', '=', environmentId)
    .where('revoked_at', 'is', null)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
  return rows.map((row) => ({ id: row.id, publicKeyPem: row.public_key_pem }));
}
