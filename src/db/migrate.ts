import { Migrator, type Migration, type MigrationProvider } from 'kysely/migration';
import type { Db } from './database.ts';
import * as foundation from './migrations/001_foundation.ts';
import * as versioning from './migrations/002_versioning.ts';
import * as audit from './migrations/003_audit.ts';
import * as members from './migrations/004_members.ts';
import * as promotionApproval from './migrations/005_promotion_approval.ts';
import * as engine from './migrations/006_engine.ts';
import * as permissionGroups from './migrations/007_permission_groups.ts';
import * as objectRecipientData from './migrations/008_object_recipient_data.ts';

/** Migrations in order; names sort lexically. */
const MIGRATIONS: Record<string, Migration> = {
  '001_foundation': foundation,
  '002_versioning': versioning,
  '003_audit': audit,
  '004_members': members,
  '005_promotion_approval': promotionApproval,
  '006_engine': engine,
  '007_permission_groups': permissionGroups,
  '008_object_recipient_data': objectRecipientData,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Brings the schema to the latest version; safe to run concurrently (Kysely takes a lock). */
export async function migrateToLatest(ownerDb: Db): Promise<string[]> {
  const migrator = new Migrator({ db: ownerDb, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
