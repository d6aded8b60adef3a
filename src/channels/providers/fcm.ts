/**
 * Firebase Cloud Messaging push provider (HTTP v1 API), one request per device token.
 *
 * Settings:
 * - `project_id` (required): the Firebase project
 * - `service_account` (required): from the service account's JSON key:
 *   `client_email`, `private_key` (PEM, PKCS#8), `token_uri` (defaults to https://oauth2.googleapis.com/token)
 * - `base_url`: defaults to https://fcm.googleapis.com
 *
 * Recipient channel data: `{tokens: [...]}` and/or `{devices: [{token}]}`.
 */
import { createHash, createPrivateKey } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import { isRecord } from '../../workflows/field-checks.ts';
import { sendToEach, type SendOutcome } from '../fan-out.ts';
import { callProvider, isSuccess, statusError } from '../http-delivery.ts';
import { assertUsableSettings, checkHttpUrl, settingsChecks, trimBaseUrl } from '../provider-settings.ts';
import {
  DeliveryError,
  MissingChannelData,
  type DeliverOptions,
  type DeliveryResult,
  type DeliveryTarget,
  type OutboundMessage,
  type Provider,
  type PushContent,
} from '../provider.ts';

export interface FcmSettings {
  project_id: string;
  service_account: { client_email: string; private_key: string; token_uri?: string };
  base_url?: string;
}

export const FCM_BASE_URL = 'https://fcm.googleapis.com';
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
/** Refresh this long before Google's expiry so a token never lapses mid-request. */
const EXPIRY_MARGIN_MS = 60_000;

/** Service-account keys pasted from JSON often keep `\n` escaped. */
function pem(privateKey: string): string {
  return privateKey.replace(/\\n/g, '\n');
}

function checkSettings(settings: unknown) {
  const { checks, obj } = settingsChecks(settings);
  checks.string(obj, '', 'project_id', { required: true, nonBlank: true });
  checkHttpUrl(checks, obj, '', 'base_url');
  const account = checks.object(obj, '', 'service_account', { required: true });
  if (account) {
    checks.string(account, 'service_account', 'client_email', { required: true, nonBlank: true });
    checkHttpUrl(checks, account, 'service_account', 'token_uri');
    const key = checks.string(account, 'service_account', 'private_key', { required: true, nonBlank: true });
    if (key !== undefined) {
      try {
        createPrivateKey(pem(key));
      } catch {
        checks.add('service_account.private_key', 'must be a PEM private key', 'format');
      }
    }
  }
  return checks.errors;
}

/** The recipient's device tokens, from `tokens` and `devices`. */
function addresses({ channelData }: DeliveryTarget): string[] {
  const tokens = Array.isArray(channelData?.tokens) ? channelData.tokens : [];
  const devices = Array.isArray(channelData?.devices) ? channelData.devices.map((d) => (isRecord(d) ? d.token : undefined)) : [];
  return [...new Set([...tokens, ...devices].filter((t): t is string => typeof t === 'string' && t !== ''))];
}

interface AccessToken {
  value: string;
  expiresAt: number;
}

/** Access tokens per service account; a pending fetch is shared by concurrent sends. */
const accessTokens = new Map<string, { token: Promise<AccessToken>; expiresAt?: number }>();

async function fetchAccessToken(account: FcmSettings['service_account'], options: DeliverOptions): Promise<AccessToken> {
  const tokenUri = account.token_uri ?? GOOGLE_TOKEN_URI;
  let assertion: string;
  try {
    const key = await importPKCS8(pem(account.private_key), 'RS256');
    assertion = await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(account.client_email)
      .setAudience(tokenUri)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key);
  } catch (error) {
    throw new DeliveryError(`FCM service account key is unusable: ${error instanceof Error ? error.message : String(error)}`, false);
  }
  const fields = { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion };
  const response = await callProvider(
    {
      method: 'POST',
      url: tokenUri,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams(fields).toString(),
      logBody: fields,
    },
    options,
  );
  const body = isRecord(response.body) ? response.body : {};
  if (!isSuccess(response.status) || typeof body.access_token !== 'string') {
    const detail = typeof body.error_description === 'string' ? body.error_description : typeof body.error === 'string' ? body.error : undefined;
    throw statusError(response, 'Google OAuth token endpoint', detail);
  }
  const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : 3600;
  return { value: body.access_token, expiresAt: Date.now() + expiresIn * 1000 };
}

function cacheKey(account: FcmSettings['service_account']): string {
  return createHash('sha256')
    .update(JSON.stringify([account.client_email, account.token_uri ?? GOOGLE_TOKEN_URI, account.private_key]))
    .digest('hex');
}

/** A cached access token for the service account, fetched when missing or about to expire. */
async function accessTokenFor(account: FcmSettings['service_account'], options: DeliverOptions): Promise<string> {
  const key = cacheKey(account);
  const cached = accessTokens.get(key);
  if (cached && (cached.expiresAt === undefined || cached.expiresAt - EXPIRY_MARGIN_MS > Date.now())) return (await cached.token).value;

  const entry: { token: Promise<AccessToken>; expiresAt?: number } = { token: fetchAccessToken(account, options) };
  accessTokens.set(key, entry);
  try {
    const token = await entry.token;
    entry.expiresAt = token.expiresAt;
    return token.value;
  } catch (error) {
    if (accessTokens.get(key) === entry) accessTokens.delete(key);
    throw error;
  }
}

/** FCM data values must be strings. */
function stringData(data: Record<string, unknown> | undefined): Record<string, string> | undefined {
  if (!data) return undefined;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

function fcmMessage(token: string, content: PushContent): Record<string, unknown> {
  const data = stringData(content.data);
  if (content.delivery_type === 'silent') {
    return {
      token,
      data,
      android: { priority: 'normal' },
      apns: { headers: { 'apns-push-type': 'background', 'apns-priority': '5' }, payload: { aps: { 'content-available': 1 } } },
    };
  }
  return { token, notification: { title: content.title, body: content.text_body }, data };
}

/** FCM's error detail, e.g. `UNREGISTERED` or `INVALID_ARGUMENT`. */
function fcmErrorCode(body: unknown): string | undefined {
  if (!isRecord(body) || !isRecord(body.error)) return undefined;
  const details = Array.isArray(body.error.details) ? body.error.details : [];
  const fcmError = details.find((d) => isRecord(d) && typeof d.errorCode === 'string');
  const code = isRecord(fcmError) ? fcmError.errorCode : body.error.status;
  const message = typeof body.error.message === 'string' ? `: ${body.error.message}` : '';
  return typeof code === 'string' ? `${code}${message}` : undefined;
}

async function deliver(rawSettings: Record<string, unknown>, message: OutboundMessage, options: DeliverOptions = {}): Promise<DeliveryResult> {
  assertUsableSettings('fcm', checkSettings(rawSettings));
  const settings = rawSettings as unknown as FcmSettings;
  const content = message.content as PushContent;
  const tokens = addresses(message);
  if (tokens.length === 0) throw new MissingChannelData(`recipient ${message.recipient.id} has no push tokens`);

  const accessToken = await accessTokenFor(settings.service_account, options);
  const url = `${trimBaseUrl(settings.base_url ?? FCM_BASE_URL)}/v1/projects/${encodeURIComponent(settings.project_id)}/messages:send`;
  return sendToEach(tokens, async (token): Promise<SendOutcome> => {
    const response = await callProvider(
      {
        method: 'POST',
        url,
        headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ message: fcmMessage(token, content) }),
      },
      options,
    );
    if (response.status === 401) {
      // Revoked or expired early: drop it so the retry fetches a new one.
      accessTokens.delete(cacheKey(settings.service_account));
      throw new DeliveryError(`FCM rejected the access token: ${fcmErrorCode(response.body) ?? 'unauthenticated'}`, true, [response.log]);
    }
    if (!isSuccess(response.status)) throw statusError(response, 'FCM', fcmErrorCode(response.body));
    const name = isRecord(response.body) && typeof response.body.name === 'string' ? response.body.name : undefined;
    return { providerMessageId: name, logs: [response.log] };
  });
}

export const fcmProvider: Provider = { name: 'fcm', channelType: 'push', checkSettings, addresses, deliver };
