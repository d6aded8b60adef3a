import { createHash, randomUUID } from 'node:crypto';
import type { Db } from '../../db/database.ts';
import { GroupCommit } from '../../db/group-commit.ts';
import { inEnvironment, type EnvTx } from '../../db/scoped.ts';
import { Conflict, HeraldError, Invalid, NotFound } from '../../errors.ts';
import { triggerDataErrors } from '../../workflows/trigger-data-schema.ts';
import { committedVersions } from '../../versioning/resolve.ts';
import { enqueue } from '../queue.ts';
import { createRecipientRuns } from '../recipient-runs.ts';
import type { RecipientInput } from '../recipients.ts';

export interface TriggerBody {
  recipients?: RecipientInput[];
  actor?: RecipientInput | null;
  data?: Record<string, unknown> | null;
  tenant?: string | ({ id: string } & Record<string, unknown>) | null;
  cancellation_key?: string | null;
  settings?: { sandbox_mode?: boolean; skip_delay?: boolean } | null;
}

export interface TriggerRequest {
  workflowKey: string;
  body: TriggerBody;
  idempotencyKey?: string;
}

export interface TriggerResult {
  workflow_run_id: string;
  /** True when an Idempotency-Key replay answered with the original run. */
  replayed: boolean;
}

/** Knock keeps idempotency keys for 24 hours. */
const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

export class WorkflowInactive extends HeraldError {
  constructor(key: string) {
    super(422, 'workflow_inactive', 'invalid_request_error', `The workflow "${key}" is not active in this environment`);
  }
}

export type TriggerCommitter = GroupCommit<TriggerRequest, TriggerResult>;

/**
 * Group-commits triggers (targets.md): concurrent triggers of one environment are
 * checked against the workflow versions committed there and written — one run row and
 * one queue job each — in a single transaction. Each request is answered only after its
 * batch commits, so an accepted trigger is never lost. The version is read in the same
 * transaction, so a trigger racing a promotion or rollback runs entirely the old or the
 * new version. A failing batch is retried item by item so only the faulty item fails.
 */
export function createTriggerCommitter(db: Db): TriggerCommitter {
  const write = (environmentId: string, items: TriggerRequest[]) =>
    inEnvironment(db, environmentId, (tx) => writeTriggers(tx, environmentId, items));
  return new GroupCommit<TriggerRequest, TriggerResult>({
    maxBatch: 1000,
    conflictKey: (item) => item.idempotencyKey ?? randomUUID(),
    flush: async (environmentId, items) => {
      try {
        return await write(environmentId, items);
      } catch (error) {
        if (items.length === 1) return [asError(error)];
        const settled = await Promise.allSettled(items.map((item) => write(environmentId, [item])));
        return settled.map((s) => (s.status === 'fulfilled' ? s.value[0]! : asError(s.reason)));
      }
    },
  });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** A stable hash of what a trigger asked for: an idempotent replay must ask for the same. */
function requestHash(item: TriggerRequest): string {
  return createHash('sha256').update(item.workflowKey).update('\0').update(JSON.stringify(item.body)).digest('base64url');
}

/** Checks triggers against the committed workflow versions and writes the accepted ones with their jobs, in `tx`. */
export async function writeTriggers(tx: EnvTx, environmentId: string, items: TriggerRequest[]): Promise<Array<TriggerResult | Error>> {
  const keys = [...new Set(items.map((item) => item.workflowKey))];
  const versions = await committedVersions(tx, environmentId, 'workflow')
    // Only the trigger data schema of the content: a workflow's steps can be large and are not needed here.
    .select((eb) => ['er.resource_key', 'v.id', 'er.active', eb.ref('v.content', '->').key('trigger_data_json_schema').as('schema')])
    .where('er.resource_key', 'in', keys)
    .execute();
  const byKey = new Map(versions.map((v) => [v.resource_key, v]));

  const idempotencyKeys = items.flatMap((item) => (item.idempotencyKey ? [item.idempotencyKey] : []));
  const earlier = new Map<string, { id: string; request_hash: string | null; inserted_at: Date }>();
  if (idempotencyKeys.length > 0) {
    const rows = await tx
      .selectFrom('workflow_runs')
      .select(['id', 'idempotency_key', 'request_hash', 'inserted_at'])
      .where('environment_id', '=', environmentId)
      .where('idempotency_key', 'in', idempotencyKeys)
      .execute();
    for (const row of rows) earlier.set(row.idempotency_key!, row);
  }

  const results: Array<TriggerResult | Error> = [];
  const inserts: Array<{ id: string; item: TriggerRequest; versionId: string; hash: string | null }> = [];
  const expiredKeys: string[] = [];
  for (const item of items) {
    const version = byKey.get(item.workflowKey);
    if (!version) {
      results.push(new NotFound('Workflow', item.workflowKey));
      continue;
    }
    if (!version.active) {
      results.push(new WorkflowInactive(item.workflowKey));
      continue;
    }
    const hash = item.idempotencyKey ? requestHash(item) : null;
    const previous = item.idempotencyKey ? earlier.get(item.idempotencyKey) : undefined;
    if (previous && Date.now() - previous.inserted_at.getTime() < IDEMPOTENCY_WINDOW_MS) {
      results.push(previous.request_hash === hash
        ? { workflow_run_id: previous.id, replayed: true }
        : new Conflict('This Idempotency-Key was used with different parameters within the last 24 hours', 'idempotency_key_reused'));
      continue;
    }
    if (previous) expiredKeys.push(item.idempotencyKey!);
    const problems = triggerDataErrors(version.id, version.schema ?? undefined, item.body.data);
    if (problems.length > 0) {
      results.push(new Invalid('The trigger data does not match the workflow\'s trigger data schema', problems));
      continue;
    }
    const id = randomUUID();
    inserts.push({ id, item, versionId: version.id, hash });
    results.push({ workflow_run_id: id, replayed: false });
  }

  if (expiredKeys.length > 0) {
    await tx.updateTable('workflow_runs').set({ idempotency_key: null }).where('environment_id', '=', environmentId).where('idempotency_key', 'in', expiredKeys).execute();
  }
  if (inserts.length > 0) {
    await tx.insertInto('workflow_runs').values(inserts.map(({ id, item, versionId, hash }) => ({
      environment_id: environmentId,
      id,
      workflow_key: item.workflowKey,
      version_id: versionId,
      recipients: JSON.stringify(item.body.recipients ?? []),
      actor: item.body.actor == null ? null : JSON.stringify(item.body.actor),
      tenant: item.body.tenant == null ? null : JSON.stringify(item.body.tenant),
      data: JSON.stringify(item.body.data ?? {}),
      settings: item.body.settings ? JSON.stringify(item.body.settings) : null,
      cancellation_key: item.body.cancellation_key ?? null,
      idempotency_key: item.idempotencyKey ?? null,
      request_hash: hash,
      status: isDirect(item.body) ? ('processed' as const) : ('queued' as const),
    }))).execute();
    // Triggers naming users by id only are expanded right here, in the same transaction: no
    // trigger job, and their runs share run jobs. The rest (inline identifications, objects to
    // fan out, inline tenants) are expanded by a `trigger` job.
    const direct = inserts.filter(({ item }) => isDirect(item.body));
    const deferred = inserts.filter(({ item }) => !isDirect(item.body));
    if (direct.length > 0) {
      await createRecipientRuns(tx, environmentId, direct.flatMap(({ id, item, versionId }) =>
        [...new Set(item.body.recipients as string[])].map((userId) => ({
          workflowRunId: id,
          workflowKey: item.workflowKey,
          versionId,
          recipient: { id: userId },
          actor: typeof item.body.actor === 'string' ? item.body.actor : null,
          tenant: (item.body.tenant as string | null | undefined) ?? null,
          data: item.body.data ?? {},
          settings: item.body.settings ?? null,
          cancellationKey: item.body.cancellation_key ?? null,
        }))));
    }
    await enqueue(tx, deferred.map(({ id }) => ({ task: 'trigger', payload: { e: environmentId, run: id } })));
  }
  return results;
}

/** A trigger whose recipients and actor are user ids and whose tenant is an id or none: nothing to identify or fan out. */
function isDirect(body: TriggerBody): boolean {
  return (body.recipients ?? []).every((r) => typeof r === 'string')
    && (body.actor == null || typeof body.actor === 'string')
    && (body.tenant == null || typeof body.tenant === 'string');
}
