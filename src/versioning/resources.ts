import type { Db } from '../db/database.ts';
import type { EnvironmentRow } from '../db/schema.ts';
import { Forbidden, Invalid, NotFound } from '../errors.ts';
import { findEnvironmentBySlug, listEnvironments } from '../environments/store.ts';
import { recordAuditEvent, type AuditContext } from '../access/audit.ts';
import { commitChanges } from './commit.ts';
import { contentSha } from './content-hash.ts';
import type { Content, ResourceKind, ResourceMeta } from './resource-kind.ts';
import * as store from './store.ts';

type Tx = Parameters<typeof store.lockVersioning>[0];

/** Keys of workflows, layouts and partials: what Knock accepts. */
const RESOURCE_KEY = /^[a-z0-9][a-z0-9_-]{0,254}$/;

export async function environmentBySlug(tx: Tx, accountId: string, slug: string): Promise<EnvironmentRow> {
  const environment = await findEnvironmentBySlug(tx, accountId, slug);
  if (!environment) throw new NotFound('Environment', slug);
  return environment;
}

/**
 * The edit rule: content is edited in development only, unless the account has
 * production write access — then content is editable only in the environment where it
 * was created.
 */
export async function assertEditable(tx: Tx, accountId: string, environment: EnvironmentRow, origin: string | undefined): Promise<void> {
  const account = await tx.selectFrom('accounts').select('production_write_access').where('id', '=', accountId).executeTakeFirstOrThrow();
  if (!account.production_write_access) {
    const [first] = await listEnvironments(tx, accountId);
    if (environment.id !== first.id) {
      throw new Forbidden(
        `Content is edited in ${first.slug} and promoted from there; "${environment.slug}" cannot be edited directly while production write access is off`,
        'edits_only_in_development',
      );
    }
    return;
  }
  if (origin && origin !== environment.id) {
    throw new Forbidden(`This resource was created in another environment and is editable only there`, 'edits_only_in_origin_environment');
  }
}

/** The content a reader sees: the working copy (unless hidden), else the committed version. */
function visibleContent(held: store.HeldResource, hideUncommitted: boolean): { content: Content; sha: string } | undefined {
  if (!hideUncommitted && held.working_content) return { content: held.working_content as Content, sha: held.working_sha! };
  if (held.committed_content) return { content: held.committed_content, sha: held.committed_sha! };
  return undefined;
}

function metaOf(held: store.HeldResource, environment: EnvironmentRow, sha: string): ResourceMeta {
  return {
    key: held.resource_key,
    environment: environment.slug,
    active: held.active,
    created_at: held.created_at.toISOString(),
    updated_at: held.updated_at.toISOString(),
    sha,
  };
}

/** Presents a held resource, or undefined when the reader should not see it. */
export function presentHeld(kind: ResourceKind, held: store.HeldResource, environment: EnvironmentRow, hideUncommitted: boolean) {
  const visible = visibleContent(held, hideUncommitted);
  return visible && kind.present(visible.content, metaOf(held, environment, visible.sha));
}

/** Normalises and fully validates a request body; 422 listing every problem. */
export function checkedContent(kind: ResourceKind, body: Record<string, unknown>): Content {
  const content = kind.normalize(body);
  const errors = kind.validate(content);
  if (errors.length > 0) {
    throw new Invalid(
      `The ${kind.type.replace('_', ' ')} is invalid`,
      errors.map((e) => ({ ...e, field: `${kind.wrapper}.${e.field}` })),
    );
  }
  return content;
}

/**
 * Fields the Knock CLI treats as read-only and so leaves out of a push after a pull
 * (a partial's `type`): when omitted, the stored value is kept.
 */
const PRESERVED_ON_UPDATE: Partial<Record<string, string[]>> = { partial: ['type'] };

function withPreservedFields(kind: ResourceKind, body: Record<string, unknown>, stored: Content | undefined): Record<string, unknown> {
  const fields = PRESERVED_ON_UPDATE[kind.type] ?? [];
  if (!stored) return body;
  const merged = { ...body };
  for (const field of fields) if (merged[field] === undefined && stored[field] !== undefined) merged[field] = stored[field];
  return merged;
}

export interface UpsertOptions {
  environment: string;
  commit: boolean;
  commitMessage?: string;
  /** With `commit`: make a new version even when the content equals the committed one. */
  allowEmpty?: boolean;
  /** Who saves (the commit author) and in which request. */
  audit: AuditContext;
}

/**
 * Saves content as the working copy of a resource in an environment (or clears the
 * working copy when the content equals what is committed), optionally committing it.
 */
export async function upsertResource(db: Db, accountId: string, kind: ResourceKind, key: string, body: Record<string, unknown>, options: UpsertOptions) {
  if (kind.type !== 'translation' && !RESOURCE_KEY.test(key)) {
    throw Invalid.field('key', 'must be lowercase letters, digits, "-" or "_", starting with a letter or digit');
  }
  const ref = { type: kind.type, key };
  return db.transaction().execute(async (tx) => {
    await store.lockVersioning(tx, accountId);
    const environment = await environmentBySlug(tx, accountId, options.environment);
    await assertEditable(tx, accountId, environment, await store.findResourceOrigin(tx, accountId, ref));
    await store.recordResourceOrigin(tx, accountId, ref, environment.id);
    const held = await store.findHeldResource(tx, environment.id, ref);
    const content = checkedContent(kind, withPreservedFields(kind, body, held && visibleContent(held, false)?.content));
    const sha = contentSha(content);
    const unchanged = held?.committed_sha === sha;
    await store.saveWorkingCopy(tx, environment.id, ref, unchanged ? null : { content, sha });
    // Pushing unchanged content with commit=true is a no-op, not an error: the Knock CLI's
    // `push --all --commit` sends every resource, changed or not.
    if (options.commit && (!unchanged || options.allowEmpty)) {
      await commitChanges(tx, accountId, environment, options.audit, { types: [kind.type], key, message: options.commitMessage ?? '', allowEmpty: options.allowEmpty ?? false });
    }
    const saved = (await store.findHeldResource(tx, environment.id, ref))!;
    return presentHeld(kind, saved, environment, false)!;
  });
}

/**
 * Validates content as an upsert of `key` in the environment would (read-only fields the
 * Knock CLI leaves out are taken from the stored resource), without saving anything.
 */
export async function validateResource(db: Db, accountId: string, kind: ResourceKind, key: string, body: Record<string, unknown>, environmentSlug: string) {
  const environment = await environmentBySlug(db, accountId, environmentSlug);
  const held = await store.findHeldResource(db, environment.id, { type: kind.type, key });
  return { environment, content: checkedContent(kind, withPreservedFields(kind, body, held && visibleContent(held, false)?.content)) };
}

export async function getResource(db: Db, accountId: string, kind: ResourceKind, key: string, environmentSlug: string, hideUncommitted: boolean) {
  const environment = await environmentBySlug(db, accountId, environmentSlug);
  const held = await store.findHeldResource(db, environment.id, { type: kind.type, key });
  const presented = held && presentHeld(kind, held, environment, hideUncommitted);
  if (!presented) throw new NotFound(kind.type.replace('_', ' '), key);
  return presented;
}

export async function listResources(
  db: Db,
  accountId: string,
  kind: ResourceKind,
  environmentSlug: string,
  page: { after?: string; before?: string; limit: number },
  hideUncommitted: boolean,
  keyLike?: string[],
) {
  const environment = await environmentBySlug(db, accountId, environmentSlug);
  const rows = await store.listHeldResources(db, environment.id, kind.type, { ...page, limit: page.limit + 1, committedOnly: hideUncommitted, keyLike });
  return { rows, present: (held: store.HeldResource) => presentHeld(kind, held, environment, hideUncommitted)! };
}

/** Turns a workflow on or off in one environment (a kill switch: not versioned); a change is audited. */
export async function setResourceActive(db: Db, accountId: string, kind: ResourceKind, key: string, environmentSlug: string, active: boolean, audit: AuditContext) {
  return db.transaction().execute(async (tx) => {
    const environment = await environmentBySlug(tx, accountId, environmentSlug);
    const ref = { type: kind.type, key };
    // Locked, so the state audited as "before" is the one this change replaced.
    const held = await store.findHeldResource(tx, environment.id, ref, { forUpdate: true });
    if (!held || !visibleContent(held, false)) throw new NotFound(kind.type.replace('_', ' '), key);
    await store.setActive(tx, environment.id, ref, active);
    if (held.active !== active) {
      await recordAuditEvent(tx, {
        ...audit,
        accountId,
        action: 'workflow.activation_changed',
        environmentId: environment.id,
        target: { type: kind.type, id: key },
        data: { before: { active: held.active }, after: { active } },
      });
    }
    return presentHeld(kind, { ...held, active }, environment, false)!;
  });
}
