import { createHash } from 'node:crypto';
import { importSPKI, jwtVerify, type CryptoKey } from 'jose';
import type { Db } from '../db/database.ts';
import { activeSigningKeys } from '../environments/signing-keys.ts';
import { Unauthorized } from '../errors.ts';

/**
 * Signed user tokens (`X-Knock-User-Token`, Knock's enhanced security mode): an RS256 JWT
 * whose `sub` is the user it speaks for, signed with the private half of one of the
 * environment's signing keys. With a public API key, a valid token is required, and the
 * caller may then act only for that user. Expired tokens (`exp`) are refused.
 */

/** Imported public keys, by id and content (a key's PEM never changes; revocation is checked on every call). */
const imported = new Map<string, Promise<CryptoKey>>();
const MAX_IMPORTED = 1000;

function publicKey(id: string, pem: string): Promise<CryptoKey> {
  const cacheKey = `${id}:${createHash('sha256').update(pem).digest('hex')}`;
  let key = imported.get(cacheKey);
  if (!key) {
    if (imported.size >= MAX_IMPORTED) imported.clear();
    key = importSPKI(pem, 'RS256');
    imported.set(cacheKey, key);
    key.catch(() => imported.delete(cacheKey));
  }
  return key;
}

/** The user a token speaks for, if one of the environment's active signing keys signed it and it has not expired. */
export async function verifyUserToken(db: Db, environmentId: string, token: string): Promise<string> {
  const keys = await activeSigningKeys(db, environmentId);
  if (keys.length === 0) throw new Unauthorized('The environment has no signing key to verify user tokens with', 'invalid_user_token');
  for (const { id, publicKeyPem } of keys) {
    let key: CryptoKey;
    try {
      key = await publicKey(id, publicKeyPem);
    } catch {
      continue;
    }
    try {
      const { payload } = await jwtVerify(token, key, { algorithms: ['RS256'] });
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new Unauthorized('The user token names no user (`sub`)', 'invalid_user_token');
      return payload.sub;
    } catch (error) {
      if (error instanceof Unauthorized) throw error;
      if ((error as { code?: string }).code === 'ERR_JWT_EXPIRED') throw new Unauthorized('The user token has expired', 'user_token_expired');
      // Signed with another key, or not a token at all: try the next key.
    }
  }
  throw new Unauthorized('The user token is invalid: no active signing key of the environment verifies it', 'invalid_user_token');
}

/** A verifier bound to a database, as the HTTP auth hook and the socket take it. */
export type UserTokenVerifier = (environmentId: string, token: string) => Promise<string>;

export function userTokenVerifier(db: Db): UserTokenVerifier {
  return (environmentId, token) => verifyUserToken(db, environmentId, token);
}
