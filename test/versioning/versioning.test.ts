import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCommittedVersion } from '../../src/versioning/resolve.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

let herald: TestHerald;
let token: string;

function workflow(name: string, subject = 'Hello {{ recipient.name }}') {
  return {
    name,
    steps: [
      { ref: 'email_1', type: 'channel', channel_key: 'email', template: { subject, html_body: '<p>{{ data.message }}</p>', text_body: '{{ data.message }}' } },
      { ref: 'in_app_feed_1', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: 'New: **{{ data.message }}**', action_url: '{{ vars.app_url }}' } },
    ],
  };
}

const mgmt = (method: string, path: string, body?: unknown) => herald.request(method, `/mgmt/v1${path}`, { token, body });
const put = (key: string, content: unknown, query = '') => mgmt('PUT', `/workflows/${key}?environment=development${query}`, { workflow: content });
const commits = async (query: string) => (await mgmt('GET', `/commits?${query}`)).json().entries as Array<Record<string, any>>;
const environmentId = async (slug: string) => (await herald.db.selectFrom('environments').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()).id;

beforeAll(async () => {
  herald = await startTestHerald();
  token = herald.secrets.service_token;
});
afterAll(async () => herald?.close());

describe('editing and committing', () => {
  it('saves a working copy in development that is not committed until a commit', async () => {
    const res = await put('welcome', workflow('Welcome'));
    expect(res.statusCode).toBe(200);
    expect(res.json().workflow).toMatchObject({ key: 'welcome', name: 'Welcome', environment: 'development', valid: true });
    expect((await mgmt('GET', '/workflows/welcome?environment=development')).json().name).toBe('Welcome');
    expect((await mgmt('GET', '/workflows/welcome?environment=development&hide_uncommitted_changes=true')).statusCode).toBe(404);
    expect(await resolveCommittedVersion(herald.db, await environmentId('development'), 'welcome')).toBeUndefined();
  });

  it('refuses edits outside development, naming the rule', async () => {
    const res = await mgmt('PUT', '/workflows/welcome?environment=production', { workflow: workflow('Hot fix') });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('edits_only_in_development');
  });

  it('rejects an invalid workflow with 422 listing each problem by path', async () => {
    const bad = { name: 'Bad', steps: [{ ref: 'a', type: 'channel', channel_key: 'email', template: { subject: 'Hi {{ name', html_body: '<p>x</p>' } }, { ref: 'a', type: 'delay' }] };
    const res = await put('bad', bad);
    expect(res.statusCode).toBe(422);
    const fields = res.json().errors.map((e: { field: string }) => e.field);
    expect(fields.some((f: string) => f.startsWith('workflow.steps.0.template.subject'))).toBe(true);
    expect(fields.some((f: string) => f.startsWith('workflow.steps.1'))).toBe(true);
    expect((await mgmt('GET', '/workflows/bad?environment=development')).statusCode).toBe(404);
  });

  it('commits working copies with author and message, and the committed version becomes what runs', async () => {
    const res = await mgmt('PUT', '/commits?environment=development&commit_message=First%20welcome');
    expect(res.statusCode).toBe(200);
    expect(res.json().result).toBe('success');
    const [commit] = await commits('environment=development');
    expect(commit).toMatchObject({ resource: { type: 'workflow', identifier: 'welcome' }, commit_message: 'First welcome', environment: 'development', author: { email: 'owner@herald.local' }, promoted: false });
    const resolved = await resolveCommittedVersion(herald.db, await environmentId('development'), 'welcome');
    expect(resolved?.versionId).toBe(commit.version_id);
    expect((await mgmt('PUT', '/commits?environment=development')).statusCode).toBe(422);
  });
});

describe('promotion', () => {
  it('promotes everything waiting into production atomically, and production now runs that version', async () => {
    await put('digest', workflow('Digest'), '&commit=true&commit_message=Digest');
    const waiting = await commits('environment=development&promoted=false');
    expect(waiting.map((c) => c.resource.identifier).sort()).toEqual(['digest', 'welcome']);

    const preview = await mgmt('PUT', '/commits/promote?to_environment=production&dry_run=true');
    expect(preview.json().dry_run).toBe(true);
    expect(preview.json().changes).toHaveLength(2);
    expect(await commits('environment=production')).toHaveLength(0);

    const res = await mgmt('PUT', '/commits/promote?to_environment=production');
    expect(res.statusCode).toBe(200);
    expect(await commits('environment=development&promoted=false')).toHaveLength(0);
    const prod = await commits('environment=production');
    expect(prod.map((c) => c.kind)).toEqual(['promote', 'promote']);
    const resolved = await resolveCommittedVersion(herald.db, await environmentId('production'), 'welcome');
    expect(resolved?.content.name).toBe('Welcome');
    expect((await mgmt('GET', '/workflows/welcome?environment=production')).json()).toMatchObject({ key: 'welcome', environment: 'production' });
  });

  it('promotes one commit to the next environment only', async () => {
    await put('welcome', workflow('Welcome v2'), '&commit=true&commit_message=v2');
    const [v2] = await commits('environment=development&resource_id=welcome');
    const res = await mgmt('PUT', `/commits/${v2.id}/promote`);
    expect(res.statusCode).toBe(200);
    expect(res.json().commit).toMatchObject({ environment: 'production', kind: 'promote', promoted_from: v2.id, version_id: v2.version_id });
    const again = await mgmt('PUT', `/commits/${v2.id}/promote`);
    expect(again.statusCode).toBe(409);
    const [prodCommit] = await commits('environment=production&resource_id=welcome');
    expect((await mgmt('PUT', `/commits/${prodCommit.id}/promote`)).statusCode).toBe(409);
  });

  it('a new environment is seeded with the latest committed versions of the one below', async () => {
    const res = await mgmt('POST', '/environments', { name: 'Staging', slug: 'staging', insert_after: 'development' });
    expect(res.statusCode).toBe(201);
    const staging = await resolveCommittedVersion(herald.db, await environmentId('staging'), 'welcome');
    const dev = await resolveCommittedVersion(herald.db, await environmentId('development'), 'welcome');
    expect(staging?.versionId).toBe(dev?.versionId);
    expect((await commits('environment=staging')).every((c) => c.kind === 'seed')).toBe(true);
    // Development's commits are now counted against staging, where they all are.
    expect(await commits('environment=development&promoted=false')).toHaveLength(0);
  });
});

describe('revert, rollback and diffs', () => {
  it('shows the change a commit made as a JSON Patch', async () => {
    const [v2] = await commits('environment=development&resource_id=welcome');
    const diff = (await mgmt('GET', `/commits/${v2.id}/diff`)).json();
    expect(diff.before.name).toBe('Welcome');
    expect(diff.after.name).toBe('Welcome v2');
    expect(diff.diff).toContainEqual({ op: 'replace', path: '/name', value: 'Welcome v2' });
  });

  it('reverts a commit with a new commit restoring the state before it', async () => {
    const [v2] = await commits('environment=development&resource_id=welcome');
    const res = await mgmt('PUT', `/commits/${v2.id}/revert`);
    expect(res.statusCode).toBe(200);
    expect(res.json().commit).toMatchObject({ kind: 'revert', reverts: v2.id, environment: 'development' });
    expect((await mgmt('GET', '/workflows/welcome?environment=development')).json().name).toBe('Welcome');
  });

  it('rolls production back to an earlier commit of its own history, atomically, as rollback commits', async () => {
    const prodId = await environmentId('production');
    const history = await commits('environment=production&resource_id=welcome');
    const first = history[history.length - 1];
    expect((await resolveCommittedVersion(herald.db, prodId, 'welcome'))?.content.name).toBe('Welcome v2');

    const preview = (await mgmt('PUT', `/environments/production/rollback?to_commit=${first.id}&dry_run=true`)).json();
    expect(preview.dry_run).toBe(true);
    expect(preview.restored.map((r: any) => r.resource.identifier)).toEqual(['welcome']);
    expect((await resolveCommittedVersion(herald.db, prodId, 'welcome'))?.content.name).toBe('Welcome v2');

    const res = await mgmt('PUT', `/environments/production/rollback?to_commit=${first.id}`);
    expect(res.statusCode).toBe(200);
    expect(res.json().commits).toEqual([expect.objectContaining({ kind: 'rollback', rollback_of: first.id, environment: 'production' })]);
    expect((await resolveCommittedVersion(herald.db, prodId, 'welcome'))?.content.name).toBe('Welcome');
  });

  it('refuses to roll back to a commit of another environment', async () => {
    const [devCommit] = await commits('environment=development');
    const res = await mgmt('PUT', `/environments/production/rollback?to_commit=${devCommit.id}`);
    expect(res.statusCode).toBe(422);
  });
});

describe('workflow activation', () => {
  it('is a per-environment switch, not versioned', async () => {
    const res = await mgmt('PUT', '/workflows/digest/activate?environment=production', { status: false });
    expect(res.statusCode).toBe(200);
    expect(res.json().workflow.active).toBe(false);
    expect((await resolveCommittedVersion(herald.db, await environmentId('production'), 'digest'))?.active).toBe(false);
    expect((await resolveCommittedVersion(herald.db, await environmentId('development'), 'digest'))?.active).toBe(true);
    expect(await commits('environment=production&resource_id=digest')).toHaveLength(1);
  });
});

describe('production write access', () => {
  it('when on, content created in an environment is editable only in that environment', async () => {
    await herald.db.updateTable('accounts').set({ production_write_access: true }).execute();
    try {
      const created = await mgmt('PUT', '/workflows/prod-only?environment=production&commit=true&commit_message=hotfix', { workflow: workflow('Prod only') });
      expect(created.statusCode).toBe(200);
      expect((await resolveCommittedVersion(herald.db, await environmentId('production'), 'prod-only'))?.content.name).toBe('Prod only');
      const fromDev = await put('prod-only', workflow('Prod only, from dev'));
      expect(fromDev.statusCode).toBe(403);
      expect(fromDev.json().code).toBe('edits_only_in_origin_environment');
      const devOriginInProd = await mgmt('PUT', '/workflows/welcome?environment=production', { workflow: workflow('Hot edit') });
      expect(devOriginInProd.statusCode).toBe(403);
    } finally {
      await herald.db.updateTable('accounts').set({ production_write_access: false }).execute();
    }
  });
});
