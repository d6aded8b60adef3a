import type { EnvTx } from '../../db/scoped.ts';
import type { BulkOperationsTable } from '../../db/schema.ts';
import type { Selectable } from 'kysely';

export type BulkOperationRow = Selectable<BulkOperationsTable>;

/** The Knock `BulkOperation` shape. */
export function toBulkOperation(row: BulkOperationRow) {
  return {
    __typename: 'BulkOperation' as const,
    id: row.id,
    name: row.name,
    status: row.status,
    estimated_total_rows: row.estimated_total_rows,
    processed_rows: row.processed_rows,
    success_count: row.success_count,
    error_count: row.error_count,
    error_items: row.error_items.map((item) => ({ id: item.id, collection: item.collection ?? null })),
    progress_path: `/v1/bulk_operations/${row.id}`,
    inserted_at: row.inserted_at.toISOString(),
    started_at: row.started_at?.toISOString() ?? null,
    completed_at: row.completed_at?.toISOString() ?? null,
    failed_at: row.failed_at?.toISOString() ?? null,
    updated_at: row.updated_at.toISOString(),
  };
}

/**
 * Records a bulk operation that ran to completion inside the caller's transaction
 * (Herald applies bulk calls atomically, so they are complete when answered).
 */
export function recordCompletedBulkOperation(
  tx: EnvTx,
  environmentId: string,
  name: string,
  total: number,
  errorItems: Array<{ id: string; collection?: string | null }> = [],
): Promise<BulkOperationRow> {
  const now = new Date();
  return tx
    .insertInto('bulk_operations')
    .values({
      environment_id: environmentId,
      name,
      status: 'completed',
      estimated_total_rows: total,
      processed_rows: total,
      success_count: total - errorItems.length,
      error_count: errorItems.length,
      error_items: JSON.stringify(errorItems),
      started_at: now,
      completed_at: now,
      failed_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findBulkOperation(tx: EnvTx, environmentId: string, id: string): Promise<BulkOperationRow | undefined> {
  return tx.selectFrom('bulk_operations').selectAll().where('environment_id', '=', environmentId).where('id', '=', id).executeTakeFirst();
}
