import type { FieldError } from '../errors.ts';

export type Json = Record<string, unknown>;

/** A plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The dotted path of `key` under `base`: `steps.0` + `ref` → `steps.0.ref`. */
export function at(base: string, key: string | number): string {
  return base === '' ? String(key) : `${base}.${key}`;
}

interface Presence {
  required?: boolean;
}

interface StringRules extends Presence {
  maxLength?: number;
  /** Report an empty (or blank) string as missing. */
  nonBlank?: boolean;
}

interface NumberRules extends Presence {
  min?: number;
  max?: number;
}

/**
 * Collects the problems with one resource's content, each at a dotted path. The typed
 * getters report a missing or mistyped field and return the value only when it is usable,
 * so checks can go on to the value's content without re-testing its type. `null` counts as
 * absent: Knock's optional fields are nullable.
 */
export class FieldChecks {
  readonly errors: FieldError[] = [];

  /** Records one problem. */
  add(field: string, message: string, type: string): void {
    this.errors.push({ field, message, type });
  }

  /** Records problems found elsewhere (Liquid, JSON Schema). */
  addAll(errors: FieldError[]): void {
    this.errors.push(...errors);
  }

  /** Whether `obj[key]` holds a value; reports it missing when required. */
  private present(obj: Json, base: string, key: string, rules: Presence): boolean {
    const value = obj[key];
    if (value !== undefined && value !== null) return true;
    if (rules.required) this.add(at(base, key), 'is required', 'required');
    return false;
  }

  /** `obj[key]` as a string, optionally non-blank and length-limited. */
  string(obj: Json, base: string, key: string, rules: StringRules = {}): string | undefined {
    if (!this.present(obj, base, key, rules)) return undefined;
    const value = obj[key];
    const field = at(base, key);
    if (typeof value !== 'string') return this.mistyped(field, 'a string');
    if (rules.nonBlank && value.trim() === '') {
      this.add(field, 'must not be blank', rules.required ? 'required' : 'blank');
      return undefined;
    }
    if (rules.maxLength !== undefined && value.length > rules.maxLength) {
      this.add(field, `must be at most ${rules.maxLength} characters`, 'maxLength');
    }
    return value;
  }

  /** `obj[key]` as a boolean. */
  boolean(obj: Json, base: string, key: string, rules: Presence = {}): boolean | undefined {
    if (!this.present(obj, base, key, rules)) return undefined;
    const value = obj[key];
    return typeof value === 'boolean' ? value : this.mistyped(at(base, key), 'a boolean');
  }

  /** `obj[key]` as an integer within bounds. */
  integer(obj: Json, base: string, key: string, rules: NumberRules = {}): number | undefined {
    if (!this.present(obj, base, key, rules)) return undefined;
    const value = obj[key];
    if (typeof value !== 'number' || !Number.isInteger(value)) return this.mistyped(at(base, key), 'an integer');
    return this.inRange(at(base, key), value, rules);
  }

  /** A number, or a string holding one (Knock returns some decimals as strings). */
  numeric(obj: Json, base: string, key: string, rules: NumberRules = {}): number | undefined {
    if (!this.present(obj, base, key, rules)) return undefined;
    const value = obj[key];
    const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isFinite(number)) return this.mistyped(at(base, key), 'a number');
    return this.inRange(at(base, key), number, rules);
  }

  /** `obj[key]` as one of `values`. */
  oneOf<T extends string>(obj: Json, base: string, key: string, values: readonly T[], rules: Presence = {}): T | undefined {
    const value = this.string(obj, base, key, rules);
    if (value === undefined) return undefined;
    if ((values as readonly string[]).includes(value)) return value as T;
    this.add(at(base, key), `must be one of: ${values.join(', ')} (got "${value}")`, 'enum');
    return undefined;
  }

  /** `obj[key]` as a JSON object. */
  object(obj: Json, base: string, key: string, rules: Presence = {}): Json | undefined {
    if (!this.present(obj, base, key, rules)) return undefined;
    const value = obj[key];
    return isRecord(value) ? value : this.mistyped(at(base, key), 'an object');
  }

  /** `obj[key]` as an array. */
  array(obj: Json, base: string, key: string, rules: Presence = {}): unknown[] | undefined {
    if (!this.present(obj, base, key, rules)) return undefined;
    const value = obj[key];
    return Array.isArray(value) ? value : this.mistyped(at(base, key), 'an array');
  }

  /** An array whose items are all strings; each other item is reported. */
  stringArray(obj: Json, base: string, key: string, rules: Presence = {}): string[] | undefined {
    const items = this.array(obj, base, key, rules);
    if (items === undefined) return undefined;
    items.forEach((item, i) => {
      if (typeof item !== 'string') this.mistyped(at(at(base, key), i), 'a string');
    });
    return items.filter((item): item is string => typeof item === 'string');
  }

  /** An array of objects, each with its path; items that are not objects are reported and left out. */
  objectArray(obj: Json, base: string, key: string, rules: Presence = {}): Array<[Json, string]> | undefined {
    const items = this.array(obj, base, key, rules);
    if (items === undefined) return undefined;
    const objects: Array<[Json, string]> = [];
    items.forEach((item, i) => {
      const path = at(at(base, key), i);
      if (isRecord(item)) objects.push([item, path]);
      else this.mistyped(path, 'an object');
    });
    return objects;
  }

  private mistyped(field: string, expected: string): undefined {
    this.add(field, `must be ${expected}`, 'type');
    return undefined;
  }

  private inRange(field: string, value: number, rules: NumberRules): number | undefined {
    const { min, max } = rules;
    const tooLow = min !== undefined && value < min;
    const tooHigh = max !== undefined && value > max;
    if (!tooLow && !tooHigh) return value;
    const bounds =
      min !== undefined && max !== undefined ? `between ${min} and ${max}` : min !== undefined ? `at least ${min}` : `at most ${max}`;
    this.add(field, `must be ${bounds}`, 'range');
    return undefined;
  }
}
