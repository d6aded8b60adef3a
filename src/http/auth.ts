import type { FastifyRequest } from 'fastify';
import type { ApiKeyAuthenticator, KeyIdentity } from '../environments/api-keys.ts';
import { authenticateServiceToken, type Principal } from '../access/service-tokens.ts';
import { authenticateSession, authenticateSessionCookie, SESSION_COOKIE, SESSION_PREFIX } from '../access/sessions.ts';
import type { Db } from '../db/database.ts';
import { Forbidden, Unauthorized } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on data API routes: the environment the API key selects. */
    apiKey: KeyIdentity;
    /** Set on management routes: who is calling. */
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** Data API routes readable with a public (`pk_`) key. */
    allowPublicKey?: boolean;
  }
}

/** The token of an `Authorization: Bearer …` header. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** onRequest hook for the data API: the key alone selects the environment. */
export function apiKeyHook(keys: ApiKeyAuthenticator) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = bearerToken(request);
    if (!token) throw new Unauthorized('Missing API key: send "Authorization: Bearer sk_…"');
    const identity = await keys.authenticate(token);
    if (!identity) throw new Unauthorized('The API key is invalid or has been revoked');
    if (identity.kind === 'public' && !request.routeOptions.config.allowPublicKey) {
      throw new Forbidden('This endpoint requires a secret API key; a public key was sent', 'secret_key_required');
    }
    request.apiKey = identity;
  };
}

/**
 * onRequest hook for the management API: a bearer service token or sign-in session
 * token, or else the session cookie (whose writes must carry the CSRF header).
 */
export function serviceTokenHook(db: Db) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = bearerToken(request);
    const principal = token
      ? await (token.startsWith(SESSION_PREFIX) ? authenticateSession(db, token) : authenticateServiceToken(db, token))
      : await authenticateSessionCookie(db, request);
    if (!principal) {
      if (!token && !request.cookies?.[SESSION_COOKIE]) throw new Unauthorized('Missing service token: send "Authorization: Bearer <token>"');
      throw new Unauthorized('The service token or session is invalid, expired or has been revoked');
    }
    request.principal = principal;
  };
}
