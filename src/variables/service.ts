import type { Db } from '../db/database.ts';
import type { EnvironmentRow } from '../db/schema.ts';
import { recordAuditEvent, type AuditContext } from '../access/audit.ts';
import { MASK } from '../access/obfuscation.ts';
import { Invalid, NotFound, type FieldError } from '../errors.ts';
import { listEnvironments } from '../environments/store.ts';
import * as store from './store.ts';
import type { VariableRow, VariableType } from './store.ts';

export { loadPublicVariables, loadVariables } from './store.ts';

/** The mgmt spec's `Variable`. */
export interface VariableView {
  key: string;
  type: VariableType;
  description: string | null;
  value: string | null;
  environment_values?: Record<string, string | null>;
  inserted_at: string;
  updated_at: string;
}

/** What reads show of a value: secrets are masked, never returned. */
function shown(variable: VariableRow, value: string | undefined): string | null {
  if (value === undefined) return null;
  return variable.type === 'secret' ? MASK : value;
}

/**
 * Variables as the API shows them: with an environment, `value` is that environment's
 * value; without one (`scope` = every environment), `environment_values` maps every
 * environment's slug to its value and `value` is null (Herald keeps no account-wide default).
 */
export async function presentVariables(
  db: Db,
  variables: VariableRow[],
  scope: Pick<EnvironmentRow, 'id' | 'slug'> | Pick<EnvironmentRow, 'id' | 'slug'>[],
): Promise<VariableView[]> {
  const environments = Array.isArray(scope) ? scope : [scope];
  const values = await store.listValues(db, variables.map((v) => v.id), environments.map((e) => e.id));
  const byPair = new Map(values.map((v) => [`${v.variable_id}:${v.environment_id}`, v.value]));
  return variables.map((variable) => {
    const valueIn = (environmentId: string) => shown(variable, byPair.get(`${variable.id}:${environmentId}`));
    const base = {
      key: variable.key,
      type: variable.type,
      description: variable.description,
      inserted_at: variable.created_at.toISOString(),
      updated_at: variable.updated_at.toISOString(),
    };
    if (!Array.isArray(scope)) return { ...base, value: valueIn(scope.id) };
    return { ...base, value: null, environment_values: Object.fromEntries(environments.map((e) => [e.slug, valueIn(e.id)])) };
  });
}

export async function getVariable(db: Db, accountId: string, key: string): Promise<VariableRow> {
  const variable = await store.findVariable(db, accountId, key);
  if (!variable) throw new NotFound('Variable', key);
  return variable;
}

export interface PutVariableInput {
  type?: VariableType;
  description?: string | null;
  values?: Record<string, string | null>;
}

/**
 * Creates or changes a variable, audited (never with its values). `values` sets (or,
 * with null, removes) values by environment slug; environments not named keep theirs.
 * With `environment`, the change is limited to that environment: values may name only
 * it, and the type and description (which apply in every environment) may be given only
 * to create the variable or unchanged.
 */
export async function putVariable(
  db: Db,
  accountId: string,
  key: string,
  input: PutVariableInput,
  environment: EnvironmentRow | undefined,
  audit: AuditContext,
): Promise<{ variable: VariableRow; created: boolean }> {
  const environments = await listEnvironments(db, accountId);
  const bySlug = new Map(environments.map((e) => [e.slug, e]));
  const problems: FieldError[] = [];
  for (const slug of Object.keys(input.values ?? {})) {
    if (!bySlug.has(slug)) problems.push({ field: `values.${slug}`, message: 'names no environment', type: 'environment' });
    else if (environment && slug !== environment.slug) {
      problems.push({ field: `values.${slug}`, message: `is outside the environment of this request ("${environment.slug}")`, type: 'environment' });
    }
  }
  if (problems.length > 0) throw new Invalid(problems.map((p) => `${p.field} ${p.message}`).join('; '), problems);

  return db.transaction().execute(async (tx) => {
    let variable = await store.findVariable(tx, accountId, key, { forUpdate: true });
    let created = false;
    if (!variable) {
      const inserted = await store.insertVariable(tx, { account_id: accountId, key, type: input.type ?? 'public', description: input.description ?? null });
      created = inserted !== undefined;
      // Created concurrently by another request: change that one.
      variable = inserted ?? (await store.findVariable(tx, accountId, key, { forUpdate: true }));
      if (!variable) throw new NotFound('Variable', key);
    }
    const before = variable;
    const changes: { type?: VariableType; description?: string | null } = {};
    if (!created) {
      if (input.type !== undefined && input.type !== before.type) changes.type = input.type;
      if (input.description !== undefined && input.description !== before.description) changes.description = input.description;
      if (environment && Object.keys(changes).length > 0) {
        const fields = Object.keys(changes);
        throw new Invalid(
          `${fields.join(' and ')} of a variable apply in every environment: change them without naming an environment`,
          fields.map((field) => ({ field, message: 'applies in every environment: leave out `environment` to change it', type: 'environment' })),
        );
      }
    }
    const set: string[] = [];
    const cleared: string[] = [];
    for (const [slug, value] of Object.entries(input.values ?? {})) {
      const env = bySlug.get(slug)!;
      if (value === null) {
        if (await store.deleteValue(tx, variable.id, env.id)) cleared.push(slug);
      } else {
        await store.setValue(tx, variable.id, env.id, value);
        set.push(slug);
      }
    }
    if (Object.keys(changes).length > 0 || ((set.length > 0 || cleared.length > 0) && !created)) {
      variable = await store.updateVariable(tx, variable.id, changes);
    }
    if (created || Object.keys(changes).length > 0 || set.length > 0 || cleared.length > 0) {
      await recordAuditEvent(tx, {
        ...audit,
        accountId,
        action: created ? 'variable.created' : 'variable.updated',
        environmentId: environment?.id ?? null,
        target: { type: 'variable', id: variable.key },
        data: {
          type: variable.type,
          ...(changes.type ? { type_changed: { before: before.type, after: changes.type } } : {}),
          ...('description' in changes ? { description_changed: true } : {}),
          values_set: set,
          values_removed: cleared,
        },
      });
    }
    return { variable, created };
  });
}

/**
 * Deletes a variable from every environment, or (with `environment`) only that
 * environment's value. Audited.
 */
export async function deleteVariable(db: Db, accountId: string, key: string, environment: EnvironmentRow | undefined, audit: AuditContext): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const variable = await store.findVariable(tx, accountId, key, { forUpdate: true });
    if (!variable) throw new NotFound('Variable', key);
    if (environment) {
      if (!(await store.deleteValue(tx, variable.id, environment.id))) return;
      await store.updateVariable(tx, variable.id, {});
      await recordAuditEvent(tx, {
        ...audit,
        accountId,
        action: 'variable.updated',
        environmentId: environment.id,
        target: { type: 'variable', id: variable.key },
        data: { type: variable.type, values_set: [], values_removed: [environment.slug] },
      });
      return;
    }
    await store.deleteVariable(tx, variable.id);
    await recordAuditEvent(tx, {
      ...audit,
      accountId,
      action: 'variable.deleted',
      environmentId: null,
      target: { type: 'variable', id: variable.key },
      data: { type: variable.type },
    });
  });
}
