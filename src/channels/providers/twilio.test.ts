import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError, MissingChannelData, type OutboundMessage, type TextContent } from '../provider.ts';
import { twilioProvider } from './twilio.ts';
import { deliveryFailure as failure, startVendorServer, unusedPort, type VendorServer } from './vendor-test-server.ts';

let twilio: VendorServer;
const AUTH = `Basic ${Buffer.from('AC123:tw-s3cret').toString('base64')}`;

beforeAll(async () => {
  // Answers like Twilio's Messages resource, keyed on the destination number.
  twilio = await startVendorServer((req) => {
    if (req.method !== 'POST' || req.url !== '/2010-04-01/Accounts/AC123/Messages.json') return { status: 404, body: { code: 20404, message: 'not found', status: 404 } };
    if (req.headers.authorization !== AUTH) return { status: 401, body: { code: 20003, message: 'Authenticate', status: 401 } };
    const to = new URLSearchParams(req.body).get('To');
    if (to === '+15550000503') return { status: 503, body: { code: 20503, message: 'Service unavailable', status: 503 } };
    if (to === '+15550000429') return { status: 429, headers: { 'retry-after': '2' }, body: { code: 20429, message: 'Too Many Requests', status: 429 } };
    if (to === 'not-a-number') return { status: 400, body: { code: 21211, message: "The 'To' number not-a-number is not a valid phone number.", status: 400 } };
    return { status: 201, body: { sid: 'SM0123456789abcdef', status: 'queued', to } };
  });
});

afterAll(async () => {
  await twilio.close();
});

const settings = () => ({ account_sid: 'AC123', auth_token: 'tw-s3cret', from_number: '+15551112222', base_url: twilio.baseUrl });

function sms(phone: string | null, content: Partial<TextContent> = {}): OutboundMessage {
  return { messageId: 'msg_sms_1', channelType: 'sms', recipient: { id: 'user-1', phone_number: phone }, content: { text_body: 'Your code is 123456', ...content } };
}

describe('twilio provider', () => {
  it("posts To/From/Body form-encoded with basic auth and returns Twilio's sid", async () => {
    const before = twilio.requests.length;
    const result = await twilioProvider.deliver(settings(), sms('+15553334444'));

    expect(result).toMatchObject({ status: 'sent', providerMessageId: 'SM0123456789abcdef' });
    const [request] = twilio.requests.slice(before);
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(request.body))).toEqual({ To: '+15553334444', From: '+15551112222', Body: 'Your code is 123456' });
  });

  it('never logs the auth token', async () => {
    const result = await twilioProvider.deliver(settings(), sms('+15553334444'));
    expect(JSON.stringify(result.logs)).not.toContain('tw-s3cret');
    expect(JSON.stringify(result.logs)).not.toContain(AUTH.slice(6));
    expect(result.logs[0].request).toMatchObject({ method: 'POST', path: '/2010-04-01/Accounts/AC123/Messages.json', headers: { Authorization: '[REDACTED]' } });
    expect(result.logs[0].response).toMatchObject({ status: 201, body: { sid: 'SM0123456789abcdef' } });
  });

  it("the step's to_number overrides the recipient's phone number", async () => {
    const before = twilio.requests.length;
    await twilioProvider.deliver(settings(), sms('+15553334444', { to_number: '+15559990000' }));
    expect(new URLSearchParams(twilio.requests[before].body).get('To')).toBe('+15559990000');
  });

  it('a recipient without a phone number is missing channel data', async () => {
    expect(twilioProvider.addresses({ recipient: { id: 'u', phone_number: null } })).toEqual([]);
    const error = await failure(twilioProvider.deliver(settings(), sms(null)));
    expect(error).toBeInstanceOf(MissingChannelData);
    expect(error.retryable).toBe(false);
  });

  it('503 is retryable, 429 is retryable with Retry-After', async () => {
    expect((await failure(twilioProvider.deliver(settings(), sms('+15550000503')))).retryable).toBe(true);
    const throttled = await failure(twilioProvider.deliver(settings(), sms('+15550000429')));
    expect(throttled.retryable).toBe(true);
    expect(throttled.retryAfterMs).toBe(2000);
  });

  it("400 is not retryable and keeps Twilio's error", async () => {
    const error = await failure(twilioProvider.deliver(settings(), sms('not-a-number')));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('Twilio 21211');
  });

  it('wrong credentials (401) are not retryable', async () => {
    const error = await failure(twilioProvider.deliver({ ...settings(), auth_token: 'wrong' }, sms('+15553334444')));
    expect(error.retryable).toBe(false);
    expect(error.logs[0].response?.status).toBe(401);
  });

  it('a refused connection is retryable', async () => {
    const port = await unusedPort();
    const error = await failure(twilioProvider.deliver({ ...settings(), base_url: `http://127.0.0.1:${port}` }, sms('+15553334444')));
    expect(error.retryable).toBe(true);
  });

  it('checkSettings lists missing credentials and a bad base_url', () => {
    expect(twilioProvider.checkSettings(settings())).toEqual([]);
    const fields = twilioProvider.checkSettings({ account_sid: 'AC1', base_url: 'nope' }).map((e) => e.field);
    expect(fields).toEqual(['auth_token', 'from_number', 'base_url']);
  });
});
