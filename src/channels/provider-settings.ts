import { FieldChecks, isRecord, type Json } from '../workflows/field-checks.ts';
import type { FieldError } from '../errors.ts';
import { DeliveryError } from './provider.ts';

/** Starts checking a provider's settings, reporting a settings value that is not an object. */
export function settingsChecks(settings: unknown): { checks: FieldChecks; obj: Json } {
  const checks = new FieldChecks();
  if (!isRecord(settings)) {
    checks.add('settings', 'must be an object', 'type');
    return { checks, obj: {} };
  }
  return { checks, obj: settings };
}

/** `obj[key]` as an absolute http(s) URL. */
export function checkHttpUrl(checks: FieldChecks, obj: Json, base: string, key: string, required = false): void {
  const value = checks.string(obj, base, key, { required, nonBlank: true });
  if (value === undefined) return;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    checks.add(base === '' ? key : `${base}.${key}`, 'must be an http(s) URL', 'format');
  }
}

/** Refuses to send with settings that `checkSettings` finds problems in: no retry can fix them. */
export function assertUsableSettings(providerName: string, problems: FieldError[]): void {
  if (problems.length === 0) return;
  const list = problems.map((p) => `${p.field} ${p.message}`).join('; ');
  throw new DeliveryError(`${providerName} channel settings are invalid: ${list}`, false);
}

/** A base URL without its trailing slashes, so paths can be appended. */
export function trimBaseUrl(url: string): string {
  return url.replace(/\/+$/, '');
}
