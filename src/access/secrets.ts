import { createHash, randomBytes } from 'node:crypto';

/** A new secret: `prefix` + 32 random bytes (base64url). Shown once, stored only as a hash. */
export function generateSecret(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** SHA-256 of a secret: the only form in which secrets are stored. */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** What list views show of a secret: its prefix and a few characters, enough to recognise it. */
export function secretPreview(secret: string, prefix: string): string {
  return `${secret.slice(0, prefix.length + 6)}…`;
}
