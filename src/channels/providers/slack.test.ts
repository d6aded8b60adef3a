import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError, MissingChannelData, type ChatContent, type OutboundMessage } from '../provider.ts';
import { slackProvider } from './slack.ts';
import { deliveryFailure as failure, startVendorServer, unusedPort, type VendorServer } from './vendor-test-server.ts';

let slack: VendorServer;
const VALID_TOKENS = new Set(['xoxb-connection', 'xoxb-shared', 'xoxb-channel']);

beforeAll(async () => {
  // Answers like Slack: incoming webhooks reply in plain text, the Web API with {ok, ...} JSON.
  slack = await startVendorServer((req) => {
    if (req.url === '/services/T1/B1/hook-s3cret') return { status: 200, body: 'ok' };
    if (req.url === '/services/T1/B2/archived') return { status: 410, body: 'channel_is_archived' };
    if (req.url === '/services/T1/B3/down') return { status: 503, body: 'service_unavailable' };
    if (req.url === '/api/chat.postMessage') {
      const token = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
      if (!VALID_TOKENS.has(token)) return { status: 200, body: { ok: false, error: 'invalid_auth' } };
      const { channel } = JSON.parse(req.body) as { channel: string };
      if (channel === 'C404') return { status: 200, body: { ok: false, error: 'channel_not_found' } };
      if (channel === 'CBUSY') return { status: 200, body: { ok: false, error: 'ratelimited' } };
      return { status: 200, body: { ok: true, channel, ts: '1700000000.000100' } };
    }
    return { status: 404, body: 'not found' };
  });
});

afterAll(async () => {
  await slack.close();
});

const settings = () => ({ base_url: slack.baseUrl, access_token: 'xoxb-channel' });

function chat(channelData: Record<string, unknown> | null, content: ChatContent = { markdown_body: '*Deploy* finished' }): OutboundMessage {
  return { messageId: 'msg_chat_1', channelType: 'chat', recipient: { id: 'user-1' }, channelData, content };
}

describe('slack provider', () => {
  it('posts to every connection: incoming webhooks with {text}, token connections via chat.postMessage', async () => {
    const before = slack.requests.length;
    const result = await slackProvider.deliver(
      settings(),
      chat({
        connections: [
          { incoming_webhook: { url: `${slack.baseUrl}/services/T1/B1/hook-s3cret` } },
          { access_token: 'xoxb-connection', channel_id: 'C123', channel_name: 'alerts' },
          { user_id: 'U999' },
        ],
      }),
    );

    expect(result).toMatchObject({ status: 'sent', providerMessageId: '1700000000.000100' });
    const requests = slack.requests.slice(before);
    const hook = requests.find((r) => r.url.startsWith('/services/'))!;
    expect(JSON.parse(hook.body)).toEqual({ text: '*Deploy* finished' });
    const posts = requests.filter((r) => r.url === '/api/chat.postMessage').map((r) => ({ auth: r.headers.authorization, body: JSON.parse(r.body) }));
    expect(posts).toEqual(
      expect.arrayContaining([
        { auth: 'Bearer xoxb-connection', body: { text: '*Deploy* finished', channel: 'C123' } },
        // No token on the connection: the channel's access_token; a user_id is a DM.
        { auth: 'Bearer xoxb-channel', body: { text: '*Deploy* finished', channel: 'U999' } },
      ]),
    );
    expect(result.logs).toHaveLength(3);
  });

  it("uses the channel data's shared token before the channel's", async () => {
    const before = slack.requests.length;
    await slackProvider.deliver(settings(), chat({ connections: [{ channel_id: 'C123' }], token: { access_token: 'xoxb-shared' } }));
    expect(slack.requests[before].headers.authorization).toBe('Bearer xoxb-shared');
  });

  it('sends json_body as the payload, with the markdown as its text fallback', async () => {
    const before = slack.requests.length;
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: 'hi' } }];
    await slackProvider.deliver(settings(), chat({ connections: [{ channel_id: 'C123' }] }, { markdown_body: 'hi', json_body: JSON.stringify({ blocks }) }));
    expect(JSON.parse(slack.requests[before].body)).toEqual({ text: 'hi', blocks, channel: 'C123' });
  });

  it('logs hide the webhook secret and the bearer token', async () => {
    const result = await slackProvider.deliver(
      settings(),
      chat({ connections: [{ incoming_webhook: { url: `${slack.baseUrl}/services/T1/B1/hook-s3cret` } }, { access_token: 'xoxb-connection', channel_id: 'C1' }] }),
    );
    const logged = JSON.stringify(result.logs);
    expect(logged).not.toContain('hook-s3cret');
    expect(logged).not.toContain('xoxb-connection');
    expect(result.logs.map((l) => l.request.path).sort()).toEqual(['/api/chat.postMessage', '/services/T1/B1/[REDACTED]']);
  });

  it('{ok:false} answers fail: channel_not_found is not retryable, ratelimited is', async () => {
    const notFound = await failure(slackProvider.deliver(settings(), chat({ connections: [{ channel_id: 'C404' }] })));
    expect(notFound.retryable).toBe(false);
    expect(notFound.message).toContain('channel_not_found');
    expect((await failure(slackProvider.deliver(settings(), chat({ connections: [{ channel_id: 'CBUSY' }] })))).retryable).toBe(true);
    expect((await failure(slackProvider.deliver({ base_url: slack.baseUrl, access_token: 'xoxb-bad' }, chat({ connections: [{ channel_id: 'C1' }] })))).retryable).toBe(false);
  });

  it('a webhook answering 410 is not retryable, 503 is', async () => {
    const archived = await failure(slackProvider.deliver(settings(), chat({ connections: [{ incoming_webhook: { url: `${slack.baseUrl}/services/T1/B2/archived` } }] })));
    expect(archived.retryable).toBe(false);
    expect(archived.message).toContain('channel_is_archived');
    const down = await failure(slackProvider.deliver(settings(), chat({ connections: [{ incoming_webhook: { url: `${slack.baseUrl}/services/T1/B3/down` } }] })));
    expect(down.retryable).toBe(true);
  });

  it('a refused connection is retryable', async () => {
    const port = await unusedPort();
    const error = await failure(slackProvider.deliver({ base_url: `http://127.0.0.1:${port}`, access_token: 'xoxb-channel' }, chat({ connections: [{ channel_id: 'C1' }] })));
    expect(error.retryable).toBe(true);
  });

  it('a token connection with no token anywhere is not retryable', async () => {
    const error = await failure(slackProvider.deliver({ base_url: slack.baseUrl }, chat({ connections: [{ channel_id: 'C1' }] })));
    expect(error.retryable).toBe(false);
  });

  it('a recipient without connections is missing channel data', async () => {
    expect(slackProvider.addresses({ recipient: { id: 'u' }, channelData: { connections: [{ channel_name: 'no-id' }] } })).toEqual([]);
    const error = await failure(slackProvider.deliver(settings(), chat({ connections: [] })));
    expect(error).toBeInstanceOf(MissingChannelData);
  });
});
