import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { Db } from '../db/database.ts';
import type { VariablesTable } from '../db/schema.ts';

/**
 * Variables are account-level configuration (no row-level security): keys are
 * account-wide, values per environment. Every query filters by account.
 */

export type VariableRow = Selectable<VariablesTable>;
export type VariableType = VariableRow['type'];

export interface VariableValueRow {
  variable_id: string;
  environment_id: string;
  value: string;
}

export interface VariableListQuery {
  type?: VariableType;
  /** Cursor keys (variable keys). */
  after?: string;
  before?: string;
  limit: number;
}

/** A page of the account's variables by key, fetched with one extra row in the direction of travel. */
export function listVariables(db: Db, accountId: string, query: VariableListQuery): Promise<VariableRow[]> {
  const backwards = query.before !== undefined && query.after === undefined;
  let q = db.selectFrom('variables').selectAll().where('account_id', '=', accountId);
  if (query.type !== undefined) q = q.where('type', '=', query.type);
  if (query.after !== undefined) q = q.where(sql<boolean>`key COLLATE "C" > ${query.after}`);
  if (query.before !== undefined) q = q.where(sql<boolean>`key COLLATE "C" < ${query.before}`);
  return q.orderBy(sql`key COLLATE "C"`, backwards ? 'desc' : 'asc').limit(query.limit + 1).execute();
}

/** A variable by key; `forUpdate` locks its row until the transaction ends. */
export function findVariable(db: Db, accountId: string, key: string, options: { forUpdate?: boolean } = {}): Promise<VariableRow | undefined> {
  const query = db.selectFrom('variables').selectAll().where('account_id', '=', accountId).where('key', '=', key);
  return (options.forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

/** Inserts a variable; undefined when the account already has that key. */
export function insertVariable(db: Db, values: { account_id: string; key: string; type: VariableType; description: string | null }): Promise<VariableRow | undefined> {
  return db.insertInto('variables').values(values).onConflict((oc) => oc.columns(['account_id', 'key']).doNothing()).returningAll().executeTakeFirst();
}

export function updateVariable(db: Db, id: string, changes: { type?: VariableType; description?: string | null }): Promise<VariableRow> {
  return db.updateTable('variables').set({ ...changes, updated_at: sql`now()` }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

export async function deleteVariable(db: Db, id: string): Promise<void> {
  await db.deleteFrom('variables').where('id', '=', id).execute();
}

/** The values of these variables (in the given environments, or all). */
export async function listValues(db: Db, variableIds: string[], environmentIds?: string[]): Promise<VariableValueRow[]> {
  if (variableIds.length === 0 || environmentIds?.length === 0) return [];
  let q = db.selectFrom('variable_values').select(['variable_id', 'environment_id', 'value']).where('variable_id', 'in', variableIds);
  if (environmentIds) q = q.where('environment_id', 'in', environmentIds);
  return q.execute();
}

export async function setValue(db: Db, variableId: string, environmentId: string, value: string): Promise<void> {
  await db
    .insertInto('variable_values')
    .values({ variable_id: variableId, environment_id: environmentId, value })
    .onConflict((oc) => oc.columns(['variable_id', 'environment_id']).doUpdateSet({ value, updated_at: sql`now()` }))
    .execute();
}

/** Removes one environment's value; true when there was one. */
export async function deleteValue(db: Db, variableId: string, environmentId: string): Promise<boolean> {
  const result = await db.deleteFrom('variable_values').where('variable_id', '=', variableId).where('environment_id', '=', environmentId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

async function valuesIn(db: Db, accountId: string, environmentId: string, publicOnly: boolean): Promise<Record<string, string>> {
  let q = db
    .selectFrom('variables as v')
    .innerJoin('variable_values as vv', 'vv.variable_id', 'v.id')
    .select(['v.key', 'vv.value'])
    .where('v.account_id', '=', accountId)
    .where('vv.environment_id', '=', environmentId);
  if (publicOnly) q = q.where('v.type', '=', 'public');
  const rows = await q.execute();
  const vars: Record<string, string> = Object.create(null);
  for (const row of rows) vars[row.key] = row.value;
  return { ...vars };
}

/**
 * Every variable with a value in the environment, secrets included, as stored (text;
 * Knock parses each as JSON when it can, else keeps the string): templates' `vars.*`.
 * Server-side only: never into a response.
 */
export function loadVariables(db: Db, accountId: string, environmentId: string): Promise<Record<string, string>> {
  return valuesIn(db, accountId, environmentId, false);
}

/** Only the public variables with a value in the environment: what the feed API may expose as `vars`. */
export function loadPublicVariables(db: Db, accountId: string, environmentId: string): Promise<Record<string, string>> {
  return valuesIn(db, accountId, environmentId, true);
}
