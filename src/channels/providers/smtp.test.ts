import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError, MissingChannelData, type EmailContent, type OutboundMessage } from '../provider.ts';
import { closeSmtpTransports, smtpProvider } from './smtp.ts';
import { deliveryFailure as failure, unusedPort } from './vendor-test-server.ts';

/** Errors smtp-server answers with: the message becomes the SMTP reply text. */
function smtpReply(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

const received: ParsedMail[] = [];
let server: SMTPServer;
let port: number;

beforeAll(async () => {
  server = new SMTPServer({
    // No reverse DNS of the client: a slow resolver would delay the greeting.
    disableReverseLookup: true,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'herald' && auth.password === 'smtp-s3cret') callback(null, { user: auth.username });
      else callback(smtpReply(535, 'Authentication credentials invalid'));
    },
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('gone@')) callback(smtpReply(550, 'No such user here'));
      else if (address.address.startsWith('greylisted@')) callback(smtpReply(450, 'Greylisted, try again later'));
      else callback();
    },
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (mail) => {
          received.push(mail);
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  port = (server.server.address() as AddressInfo).port;
});

afterAll(async () => {
  closeSmtpTransports();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const settings = (overrides: Record<string, unknown> = {}) => ({
  host: '127.0.0.1',
  port,
  ignore_tls: true,
  username: 'herald',
  password: 'smtp-s3cret',
  from_address: 'notify@herald.test',
  from_name: 'Herald',
  reply_to: 'support@herald.test',
  ...overrides,
});

function email(to: string | null, content: Partial<EmailContent> = {}, messageId = 'msg_email_1'): OutboundMessage {
  return {
    messageId,
    channelType: 'email',
    recipient: { id: 'user-1', email: to, name: 'Ada Lovelace' },
    content: { subject: 'Welcome aboard', html_body: '<p>Hello <b>Ada</b></p>', text_body: 'Hello Ada', ...content },
  };
}

describe('smtp provider', () => {
  it('delivers HTML and text from the channel sender, with Message-ID <messageId@herald>', async () => {
    const result = await smtpProvider.deliver(settings(), email('ada@example.com', {}, 'msg_abc123'));

    expect(result.status).toBe('sent');
    expect(result.providerMessageId).toBe('<msg_abc123@herald>');
    const mail = received.find((m) => m.messageId === '<msg_abc123@herald>');
    expect(mail).toBeDefined();
    expect(mail!.subject).toBe('Welcome aboard');
    expect(mail!.html).toContain('<p>Hello <b>Ada</b></p>');
    expect(mail!.text?.trim()).toBe('Hello Ada');
    expect(mail!.from?.value).toEqual([{ address: 'notify@herald.test', name: 'Herald' }]);
    expect(mail!.replyTo?.value).toEqual([{ address: 'support@herald.test', name: '' }]);
    const to = Array.isArray(mail!.to) ? mail!.to[0] : mail!.to;
    expect(to?.value).toEqual([{ address: 'ada@example.com', name: 'Ada Lovelace' }]);
  });

  it("the step's from, reply-to, cc and headers override the channel's", async () => {
    await smtpProvider.deliver(
      settings(),
      email('ada@example.com', { from: 'Billing <billing@herald.test>', reply_to: 'billing@herald.test', cc: ['cc@example.com'], headers: { 'X-Campaign': 'welcome' } }, 'msg_override'),
    );
    const mail = received.find((m) => m.messageId === '<msg_override@herald>')!;
    expect(mail.from?.value).toEqual([{ address: 'billing@herald.test', name: 'Billing' }]);
    expect(mail.replyTo?.text).toBe('billing@herald.test');
    expect(mail.headers.get('x-campaign')).toBe('welcome');
    const cc = Array.isArray(mail.cc) ? mail.cc[0] : mail.cc;
    expect(cc?.value[0].address).toBe('cc@example.com');
  });

  it('the delivery log shows the envelope and server reply but never the password', async () => {
    const result = await smtpProvider.deliver(settings(), email('ada@example.com', {}, 'msg_log'));
    expect(JSON.stringify(result.logs)).not.toContain('smtp-s3cret');
    expect(result.logs[0].request).toMatchObject({
      method: 'SMTP',
      host: `127.0.0.1:${port}`,
      headers: { To: 'ada@example.com', Subject: 'Welcome aboard', 'Message-ID': '<msg_log@herald>' },
    });
    expect(result.logs[0].response?.status).toBe(250);
  });

  it('a recipient without an email address is missing channel data', async () => {
    expect(smtpProvider.addresses({ recipient: { id: 'u', email: null } })).toEqual([]);
    const error = await failure(smtpProvider.deliver(settings(), email(null)));
    expect(error).toBeInstanceOf(MissingChannelData);
    expect(error.retryable).toBe(false);
  });

  it('a 5xx reply (550 no such user) is not retryable', async () => {
    const error = await failure(smtpProvider.deliver(settings(), email('gone@example.com')));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('No such user here');
    expect(error.logs[0].response?.status).toBe(550);
  });

  it('a 4xx reply (450 greylisted) is retryable', async () => {
    const error = await failure(smtpProvider.deliver(settings(), email('greylisted@example.com')));
    expect(error.retryable).toBe(true);
    expect(error.logs[0].response?.status).toBe(450);
  });

  it('rejected credentials (535) are not retryable, and the error leaks no password', async () => {
    const error = await failure(smtpProvider.deliver(settings({ password: 'wrong-pass' }), email('ada@example.com')));
    expect(error.retryable).toBe(false);
    expect(JSON.stringify({ message: error.message, logs: error.logs })).not.toContain('wrong-pass');
  });

  it('a refused connection is retryable', async () => {
    const error = await failure(smtpProvider.deliver(settings({ port: await unusedPort() }), email('ada@example.com')));
    expect(error.retryable).toBe(true);
  });

  it('checkSettings lists what is missing', () => {
    expect(smtpProvider.checkSettings(settings())).toEqual([]);
    const problems = smtpProvider.checkSettings({ port: 70000, username: 'u' });
    expect(problems.map((p) => p.field)).toEqual(['host', 'port', 'password', 'from_address']);
    expect(smtpProvider.checkSettings('nope').map((p) => p.field)).toContain('settings');
  });

  it('invalid settings fail the send without retry', async () => {
    const error = await failure(smtpProvider.deliver({ host: '127.0.0.1' }, email('ada@example.com')));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('from_address');
  });
});
