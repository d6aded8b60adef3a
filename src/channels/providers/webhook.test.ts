import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError, type HttpContent, type OutboundMessage } from '../provider.ts';
import { deliveryFailure as failure, startVendorServer, unusedPort, type VendorServer } from './vendor-test-server.ts';
import { webhookProvider } from './webhook.ts';

let server: VendorServer;

beforeAll(async () => {
  server = await startVendorServer((req) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/hooks/ok') return { status: 200, body: { received: true } };
    if (path === '/hooks/accepted') return { status: 202 };
    if (path === '/hooks/unavailable') return { status: 503, body: 'down for maintenance' };
    if (path === '/hooks/throttled') return { status: 429, headers: { 'retry-after': '7' }, body: 'slow down' };
    if (path === '/hooks/bad') return { status: 400, body: { error: 'bad payload' } };
    if (path === '/hooks/hang') return 'hang';
    return { status: 404, body: 'no such hook' };
  });
});

afterAll(async () => {
  await server.close();
});

function message(content: Partial<HttpContent>): OutboundMessage {
  return {
    messageId: 'msg_webhook_1',
    channelType: 'http',
    recipient: { id: 'user-1' },
    content: { url: `${server.baseUrl}/hooks/ok`, method: 'post', headers: {}, query: {}, ...content },
  };
}

describe('webhook provider', () => {
  it('sends the rendered request as given, with the message id as Idempotency-Key, and reports delivered', async () => {
    const before = server.requests.length;
    const result = await webhookProvider.deliver(
      {},
      message({ headers: { 'X-Source': 'herald' }, query: { event: 'welcome', n: '1' }, body: '{"hello":"world"}' }),
    );

    expect(result.status).toBe('delivered');
    const [request] = server.requests.slice(before);
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/hooks/ok?event=welcome&n=1');
    expect(request.headers['x-source']).toBe('herald');
    expect(request.headers['idempotency-key']).toBe('msg_webhook_1');
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body)).toEqual({ hello: 'world' });
    expect(result.logs).toHaveLength(1);
    expect(result.logs[0].request).toMatchObject({ method: 'POST', path: '/hooks/ok', query: '?event=welcome&n=1', body: { hello: 'world' } });
    expect(result.logs[0].response).toMatchObject({ status: 200, body: { received: true } });
  });

  it('keeps an Idempotency-Key the step sets and sends no body with GET', async () => {
    const before = server.requests.length;
    const result = await webhookProvider.deliver({}, message({ method: 'get', url: `${server.baseUrl}/hooks/accepted`, headers: { 'idempotency-key': 'mine' }, body: 'ignored' }));
    expect(result.status).toBe('delivered');
    const [request] = server.requests.slice(before);
    expect(request.method).toBe('GET');
    expect(request.headers['idempotency-key']).toBe('mine');
    expect(request.body).toBe('');
  });

  it('redacts credential headers and query params in the delivery log', async () => {
    const result = await webhookProvider.deliver(
      {},
      message({ headers: { Authorization: 'Bearer s3cret', 'X-Api-Key': 'k3y', 'X-Trace': 't' }, query: { token: 'q-s3cret' }, body: '{}' }),
    );
    const logged = JSON.stringify(result.logs);
    expect(logged).not.toContain('s3cret');
    expect(logged).not.toContain('k3y');
    expect(result.logs[0].request.headers).toMatchObject({ Authorization: '[REDACTED]', 'X-Api-Key': '[REDACTED]', 'X-Trace': 't' });
  });

  it('a 5xx answer is retryable', async () => {
    const error = await failure(webhookProvider.deliver({}, message({ url: `${server.baseUrl}/hooks/unavailable` })));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('503');
    expect(error.logs[0].response?.status).toBe(503);
  });

  it('a 429 answer is retryable and carries Retry-After', async () => {
    const error = await failure(webhookProvider.deliver({}, message({ url: `${server.baseUrl}/hooks/throttled` })));
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(7000);
  });

  it('other 4xx answers are not retryable', async () => {
    expect((await failure(webhookProvider.deliver({}, message({ url: `${server.baseUrl}/hooks/bad` })))).retryable).toBe(false);
    expect((await failure(webhookProvider.deliver({}, message({ url: `${server.baseUrl}/hooks/missing` })))).retryable).toBe(false);
  });

  it('a refused connection is retryable', async () => {
    const port = await unusedPort();
    const error = await failure(webhookProvider.deliver({}, message({ url: `http://127.0.0.1:${port}/hooks/ok` })));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.logs[0].response).toBeUndefined();
  });

  it('an endpoint that does not answer within the timeout is retryable', async () => {
    const error = await failure(webhookProvider.deliver({}, message({ url: `${server.baseUrl}/hooks/hang` }), { timeoutMs: 200 }));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('timed out after 200 ms');
  });

  it("the caller's abort signal stops the request", async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await failure(webhookProvider.deliver({}, message({}), { signal: controller.signal }));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('aborted');
  });

  it('an invalid URL or method is not retryable', async () => {
    expect((await failure(webhookProvider.deliver({}, message({ url: 'not a url' })))).retryable).toBe(false);
    expect((await failure(webhookProvider.deliver({}, message({ url: 'ftp://example.com/x' })))).retryable).toBe(false);
    expect((await failure(webhookProvider.deliver({}, message({ method: 'trace' })))).retryable).toBe(false);
  });
});
