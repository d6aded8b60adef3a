import type { FastifyRequest } from 'fastify';
import type { ApiKeyAuthenticator, KeyIdentity } from '../environments/api-keys.ts';
import { authenticateServiceToken, type Principal } from '../access/service-tokens.ts';
import { authenticateSession, authenticateSessionCookie, SESSION_COOKIE, SESSION_PREFIX } from '../access/sessions.ts';
import type { Db } from '../db/database.ts';
import { Forbidden, Unauthorized } from '../errors.ts';
import type { UserTokenVerifier } from '../messages/user-token.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on data API routes: the environment the API key selects. */
    apiKey: KeyIdentity;
    /** With a public key: the user its signed user token names, the only user the request may act for. */
    tokenUserId?: string;
    /** Set on management routes: who is calling. */
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** Data API routes usable with a public (`pk_`) key plus a signed user token, for that user's data only. */
    allowPublicKey?: boolean;
    /** Routes whose JSON body is optional: an empty body with `Content-Type: application/json` is no body. */
    optionalBody?: boolean;
  }
}

/** The token of an `Authorization: Bearer …` header. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** The header carrying a signed user token (Knock's enhanced security mode). */
export const USER_TOKEN_HEADER = 'x-knock-user-token';

/**
 * onRequest hook for the data API: the key alone selects the environment. A public key
 * reaches only routes that allow it, and only with a valid signed user token, whose user
 * it then acts for (`request.tokenUserId`); secret keys have full access.
 */
export function apiKeyHook(keys: ApiKeyAuthenticator, verifyUserToken: UserTokenVerifier) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = bearerToken(request);
    if (!token) throw new Unauthorized('Missing API key: send "Authorization: Bearer sk_…"');
    const identity = await keys.authenticate(token);
    if (!identity) throw new Unauthorized('The API key is invalid or has been revoked');
    if (identity.kind === 'public') {
      if (!request.routeOptions.config.allowPublicKey) {
        throw new Forbidden('This endpoint requires a secret API key; a public key was sent', 'secret_key_required');
      }
      const userToken = request.headers[USER_TOKEN_HEADER];
      if (typeof userToken !== 'string' || userToken === '') {
        throw new Unauthorized('A public API key must be sent with a signed user token (X-Knock-User-Token)', 'user_token_required');
      }
      request.tokenUserId = await verifyUserToken(identity.environmentId, userToken);
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
