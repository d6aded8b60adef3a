import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../http/app.ts';
import { auditContextOf } from '../access/audit.ts';
import { getEnvironment } from './service.ts';
import { SlugParams } from './schema.ts';
import { createSigningKey, listSigningKeys, revokeSigningKey } from './signing-keys.ts';

const tags = ['Environments'];
const DateTime = Type.String({ format: 'date-time' });

const SigningKey = Type.Object({
  id: Type.String({ format: 'uuid' }),
  fingerprint: Type.String({ description: "The start of the public key's SHA-256 fingerprint, to recognise the key." }),
  public_key: Type.String({ description: 'PEM (SubjectPublicKeyInfo).' }),
  created_at: DateTime,
  revoked_at: Type.Union([DateTime, Type.Null()]),
});

const CreatedSigningKey = Type.Intersect([
  SigningKey,
  Type.Object({
    private_key: Type.String({ description: 'PKCS#8 PEM. Returned only in this response: Herald keeps the public key only.' }),
    private_key_base64: Type.String({ description: 'The same PEM, base64-encoded (the Knock SDKs accept either form as the signing key).' }),
  }),
]);

/** Management routes for an environment's signing keys (user tokens, "enhanced security mode"). */
export function signingKeyRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    const { db, accountId } = deps;

    app.get('/environments/:environment_slug/signing_keys', {
      schema: {
        tags,
        summary: "List an environment's signing keys (Herald)",
        description: 'Public keys only: private keys are shown once, at creation.',
        params: SlugParams,
        response: { 200: Type.Object({ entries: Type.Array(SigningKey), page_info: Type.Any() }) },
      },
    }, async (request) => {
      const environment = await getEnvironment(db, accountId, request.params.environment_slug);
      const entries = await listSigningKeys(db, environment.id);
      return { entries, page_info: { __typename: 'PageInfo', after: null, before: null, page_size: entries.length } };
    });

    app.post('/environments/:environment_slug/signing_keys', {
      schema: {
        tags,
        summary: 'Create a signing key (Herald)',
        description: 'Generates an RS256 (RSA-2048) key pair. The private key signs user tokens and is returned only in this response.',
        params: SlugParams,
        response: { 201: CreatedSigningKey },
      },
    }, async (request, reply) => {
      const environment = await getEnvironment(db, accountId, request.params.environment_slug);
      return reply.status(201).send(await createSigningKey(db, environment, auditContextOf(request)));
    });

    app.delete('/environments/:environment_slug/signing_keys/:id', {
      schema: {
        tags,
        summary: 'Revoke a signing key (Herald)',
        description: 'User tokens signed with it are refused from then on.',
        params: Type.Object({ environment_slug: Type.String({ maxLength: 100 }), id: Type.String({ format: 'uuid' }) }),
        response: { 200: SigningKey },
      },
    }, async (request) => {
      const environment = await getEnvironment(db, accountId, request.params.environment_slug);
      return revokeSigningKey(db, environment, request.params.id, auditContextOf(request));
    });
  };
}
