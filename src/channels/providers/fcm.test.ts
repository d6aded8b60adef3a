import { generateKeyPairSync } from 'node:crypto';
import { createLocalJWKSet, exportJWK, importSPKI, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError, MissingChannelData, type OutboundMessage, type PushContent } from '../provider.ts';
import { fcmProvider } from './fcm.ts';
import { deliveryFailure as failure, startVendorServer, unusedPort, type VendorServer } from './vendor-test-server.ts';

const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

let google: VendorServer;
let tokensIssued = 0;
let revokedToken: string | undefined;

beforeAll(async () => {
  const jwks = createLocalJWKSet({ keys: [await exportJWK(await importSPKI(publicKey, 'RS256'))] });
  // One server plays both Google's OAuth token endpoint and the FCM v1 API.
  google = await startVendorServer(async (req) => {
    if (req.method === 'POST' && req.url === '/token') {
      const form = new URLSearchParams(req.body);
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return { status: 400, body: { error: 'unsupported_grant_type' } };
      try {
        const { payload } = await jwtVerify(form.get('assertion') ?? '', jwks, { audience: `${google.baseUrl}/token`, algorithms: ['RS256'] });
        if (payload.scope !== 'https://www.googleapis.com/auth/firebase.messaging') return { status: 400, body: { error: 'invalid_scope' } };
        if (payload.iss === 'revoked@proj.iam.gserviceaccount.com') return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } };
      } catch {
        return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } };
      }
      tokensIssued += 1;
      return { status: 200, body: { access_token: `ya29.token-${tokensIssued}`, expires_in: 3599, token_type: 'Bearer' } };
    }
    if (req.method === 'POST' && req.url === '/v1/projects/herald-test/messages:send') {
      const bearer = req.headers.authorization?.replace(/^Bearer /, '');
      if (!bearer?.startsWith('ya29.token-') || bearer === revokedToken) {
        return { status: 401, body: { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } } };
      }
      const { message } = JSON.parse(req.body) as { message: { token: string } };
      if (message.token === 'stale-token') {
        return {
          status: 404,
          body: {
            error: {
              code: 404,
              message: 'Requested entity was not found.',
              status: 'NOT_FOUND',
              details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }],
            },
          },
        };
      }
      if (message.token === 'busy-token') return { status: 503, body: { error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' } } };
      return { status: 200, body: { name: `projects/herald-test/messages/${message.token}-1` } };
    }
    return { status: 404, body: 'not found' };
  });
});

afterAll(async () => {
  await google.close();
});

/** Each test uses its own service account so the access-token cache does not carry over. */
function settings(account: string, overrides: Record<string, unknown> = {}) {
  return {
    project_id: 'herald-test',
    base_url: google.baseUrl,
    service_account: { client_email: `${account}@proj.iam.gserviceaccount.com`, private_key: privateKey, token_uri: `${google.baseUrl}/token` },
    ...overrides,
  };
}

function push(channelData: Record<string, unknown> | null, content: Partial<PushContent> = {}): OutboundMessage {
  return {
    messageId: 'msg_push_1',
    channelType: 'push',
    recipient: { id: 'user-1' },
    channelData,
    content: { title: 'New comment', text_body: 'Ada replied to you', data: { comment_id: 42, thread: 'abc' }, ...content },
  };
}

function sendsIn(from: number) {
  return google.requests.slice(from).filter((r) => r.url.endsWith('messages:send'));
}

describe('fcm provider', () => {
  it('sends one v1 message per token with a bearer token from the service-account JWT grant', async () => {
    const before = google.requests.length;
    const result = await fcmProvider.deliver(settings('sends'), push({ tokens: ['device-a', 'device-b'] }));

    expect(result.status).toBe('sent');
    expect(result.providerMessageId).toMatch(/^projects\/herald-test\/messages\/device-[ab]-1$/);
    const requests = google.requests.slice(before);
    expect(requests.filter((r) => r.url === '/token')).toHaveLength(1);
    const sends = sendsIn(before);
    expect(sends.map((r) => r.headers.authorization)).toEqual(['Bearer ya29.token-' + tokensIssued, 'Bearer ya29.token-' + tokensIssued]);
    const bodies = sends.map((r) => JSON.parse(r.body).message).sort((a, b) => a.token.localeCompare(b.token));
    expect(bodies).toEqual([
      { token: 'device-a', notification: { title: 'New comment', body: 'Ada replied to you' }, data: { comment_id: '42', thread: 'abc' } },
      { token: 'device-b', notification: { title: 'New comment', body: 'Ada replied to you' }, data: { comment_id: '42', thread: 'abc' } },
    ]);
    expect(result.logs).toHaveLength(2);
  });

  it('reuses the access token until it expires', async () => {
    const issued = tokensIssued;
    await fcmProvider.deliver(settings('cached'), push({ tokens: ['device-a'] }));
    await fcmProvider.deliver(settings('cached'), push({ tokens: ['device-b'] }));
    expect(tokensIssued).toBe(issued + 1);
  });

  it('reads tokens from devices too', async () => {
    expect(fcmProvider.addresses({ recipient: { id: 'u' }, channelData: { tokens: ['t1'], devices: [{ token: 't2' }, { token: 't1' }] } })).toEqual(['t1', 't2']);
    const before = google.requests.length;
    await fcmProvider.deliver(settings('devices'), push({ devices: [{ token: 'device-c', locale: 'en' }] }));
    expect(sendsIn(before).map((r) => JSON.parse(r.body).message.token)).toEqual(['device-c']);
  });

  it('a silent push carries data only', async () => {
    const before = google.requests.length;
    await fcmProvider.deliver(settings('silent'), push({ tokens: ['device-a'] }, { delivery_type: 'silent' }));
    const message = JSON.parse(sendsIn(before)[0].body).message;
    expect(message.notification).toBeUndefined();
    expect(message.data).toEqual({ comment_id: '42', thread: 'abc' });
    expect(message.apns.payload.aps['content-available']).toBe(1);
  });

  it('logs redact the bearer token and the JWT assertion', async () => {
    const result = await fcmProvider.deliver(settings('logs'), push({ tokens: ['device-a'] }));
    const logged = JSON.stringify(result.logs);
    expect(logged).not.toContain('ya29.');
    expect(logged).not.toContain('PRIVATE KEY');
    expect(result.logs[0].request.headers.Authorization).toBe('[REDACTED]');
    expect(result.logs[0].request.path).toBe('/v1/projects/herald-test/messages:send');
  });

  it('a token answered 404 UNREGISTERED is not retryable', async () => {
    const error = await failure(fcmProvider.deliver(settings('stale'), push({ tokens: ['stale-token'] })));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('UNREGISTERED');
  });

  it('one good token makes the message sent; the failed one stays in the logs', async () => {
    const result = await fcmProvider.deliver(settings('mixed'), push({ tokens: ['stale-token', 'device-a'] }));
    expect(result.status).toBe('sent');
    expect(result.logs.map((l) => l.response?.status).sort()).toEqual([200, 404]);
  });

  it('503 from FCM is retryable', async () => {
    const error = await failure(fcmProvider.deliver(settings('busy'), push({ tokens: ['busy-token'] })));
    expect(error.retryable).toBe(true);
  });

  it('a rejected access token (401) is retryable and dropped from the cache', async () => {
    await fcmProvider.deliver(settings('revoked-cache'), push({ tokens: ['device-a'] }));
    revokedToken = `ya29.token-${tokensIssued}`;
    const error = await failure(fcmProvider.deliver(settings('revoked-cache'), push({ tokens: ['device-a'] })));
    expect(error.retryable).toBe(true);
    const issued = tokensIssued;
    await fcmProvider.deliver(settings('revoked-cache'), push({ tokens: ['device-a'] }));
    expect(tokensIssued).toBe(issued + 1);
  });

  it('a refused JWT grant is not retryable', async () => {
    const error = await failure(fcmProvider.deliver(settings('revoked'), push({ tokens: ['device-a'] })));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('Invalid JWT Signature');
    expect(JSON.stringify(error.logs)).not.toMatch(/eyJ[\w-]+\.eyJ/);
  });

  it('a refused connection is retryable', async () => {
    const port = await unusedPort();
    const error = await failure(fcmProvider.deliver(settings('refused', { base_url: `http://127.0.0.1:${port}` }), push({ tokens: ['device-a'] })));
    expect(error.retryable).toBe(true);
  });

  it('a recipient without tokens is missing channel data', async () => {
    const error = await failure(fcmProvider.deliver(settings('none'), push({ tokens: [] })));
    expect(error).toBeInstanceOf(MissingChannelData);
    expect(fcmProvider.addresses({ recipient: { id: 'u' }, channelData: null })).toEqual([]);
  });

  it('checkSettings rejects a service account without a usable private key', () => {
    expect(fcmProvider.checkSettings(settings('check'))).toEqual([]);
    const problems = fcmProvider.checkSettings({ project_id: 'p', service_account: { client_email: 'a@b', private_key: 'not a key' } });
    expect(problems.map((p) => p.field)).toEqual(['service_account.private_key']);
    expect(fcmProvider.checkSettings({}).map((p) => p.field)).toEqual(['project_id', 'service_account']);
  });
});
