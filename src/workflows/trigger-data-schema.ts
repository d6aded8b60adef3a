import { Ajv, type ErrorObject } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FieldError } from '../errors.ts';
import { at, isRecord } from './field-checks.ts';

type AnyAjv = Ajv | Ajv2019 | Ajv2020;

function withFormats<T extends AnyAjv>(ajv: T): T {
  // ajv-formats is CommonJS; its default import is the plugin function itself.
  (addFormats as unknown as (ajv: AnyAjv) => void)(ajv);
  return ajv;
}

const options = { strict: false, allErrors: true, logger: false } as const;

/** One validator per JSON Schema dialect a schema may declare in `$schema`; draft-07 when it declares none. */
const DIALECTS: AnyAjv[] = [withFormats(new Ajv(options)), withFormats(new Ajv2019(options)), withFormats(new Ajv2020(options))];

/** The validator whose meta-schema is `$schema`, if Herald knows that dialect. */
function dialectOf(declared: unknown): AnyAjv | undefined {
  if (declared === undefined) return DIALECTS[0];
  if (typeof declared !== 'string') return undefined;
  return DIALECTS.find((ajv) => {
    try {
      return ajv.getSchema(declared) !== undefined;
    } catch {
      return false;
    }
  });
}

/** `/properties/name/type` under `trigger_data_json_schema` → `trigger_data_json_schema.properties.name.type`. */
function fieldOf(base: string, error: ErrorObject): string {
  return error.instancePath
    .split('/')
    .filter(Boolean)
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce(at, base);
}

/**
 * Problems with a workflow's `trigger_data_json_schema` at `base`: it must be a JSON Schema
 * object that Ajv accepts against its meta-schema and can compile (so `$ref`s resolve).
 * Draft-07 unless `$schema` names 2019-09 or 2020-12.
 */
export function triggerDataSchemaErrors(base: string, schema: unknown): FieldError[] {
  if (schema === undefined || schema === null) return [];
  if (!isRecord(schema)) return [{ field: base, message: 'must be a JSON Schema object', type: 'type' }];
  const ajv = dialectOf(schema.$schema);
  if (!ajv) {
    const message = 'is not a supported JSON Schema dialect: use draft-07, 2019-09 or 2020-12 (or leave $schema out for draft-07)';
    return [{ field: at(base, '$schema'), message, type: 'json_schema' }];
  }
  if (!ajv.validateSchema(schema)) {
    // Ajv reports each failed branch of the meta-schema's anyOfs; the first problem per place says it best.
    const seen = new Set<string>();
    const errors: FieldError[] = [];
    for (const error of ajv.errors ?? []) {
      const field = fieldOf(base, error);
      if (seen.has(field)) continue;
      seen.add(field);
      errors.push({ field, message: `is not a valid JSON Schema: ${error.message ?? 'invalid'}`, type: 'json_schema' });
    }
    return errors;
  }
  try {
    ajv.compile(schema);
    return [];
  } catch (error) {
    return [{ field: base, message: `cannot be compiled: ${error instanceof Error ? error.message : String(error)}`, type: 'json_schema' }];
  } finally {
    // Ajv caches compiled schemas (and their $id); this was only a check.
    ajv.removeSchema(schema);
  }
}

/** Validators of committed workflow versions' trigger data schemas, by version id (versions never change). */
const compiled = new Map<string, ((data: unknown) => FieldError[]) | null>();

/** Problems with trigger `data` under the schema of a workflow version (none when it has no schema). */
export function triggerDataErrors(versionId: string, schema: unknown, data: unknown): FieldError[] {
  let validate = compiled.get(versionId);
  if (validate === undefined) {
    validate = null;
    const ajv = isRecord(schema) ? dialectOf(schema.$schema) : undefined;
    if (ajv && isRecord(schema)) {
      try {
        // Without its $id, so versions sharing one never collide in Ajv's registry.
        const { $id: _id, ...withoutId } = schema;
        const check = ajv.compile(withoutId);
        validate = (value) => (check(value) ? [] : (check.errors ?? []).map((error) => ({
          field: fieldOf('data', error) + (error.keyword === 'required' ? `.${String(error.params.missingProperty)}` : ''),
          message: error.message ?? 'is invalid',
          type: error.keyword,
        })));
      } catch {
        validate = null; // validation at commit time refuses such schemas; nothing to enforce
      }
    }
    if (compiled.size > 5_000) compiled.clear();
    compiled.set(versionId, validate);
  }
  return validate ? validate(data ?? {}) : [];
}
