/**
 * Conformance: the official `@knocklabs/mgmt` SDK managing versioned content on Herald —
 * workflows, email layouts, partials, translations and commits — with every response
 * checked against the SDK's TypeScript types. Herald's additions (diff, revert,
 * rollback, dry runs) have no SDK method and are called over plain HTTP.
 *
 * The tests build on each other (one Herald for the file) and run in order.
 */
import KnockMgmt, { APIError, ConflictError, NotFoundError, PermissionDeniedError, UnprocessableEntityError } from '@knocklabs/mgmt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

let herald: TestHerald;
let mgmt: KnockMgmt;

beforeAll(async () => {
  herald = await startTestHerald();
  mgmt = new KnockMgmt({ serviceToken: herald.secrets.service_token, baseURL: `${herald.url}/mgmt`, maxRetries: 0 });
});
afterAll(async () => herald?.close());

const DEV = { environment: 'development' } as const;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const RESOURCE_TYPES = ['audience', 'email_layout', 'guide', 'message_type', 'partial', 'translation', 'workflow'];
const STEP_TYPES = ['channel', 'delay', 'batch', 'branch', 'throttle', 'http_fetch', 'trigger_workflow', 'ai_agent', 'random_cohort', 'update_data', 'update_object', 'update_tenant', 'update_user'];

/** Plain HTTP for Herald's additions (no SDK method). */
async function http(method: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${herald.url}/mgmt/v1${path}`, { method, headers: { authorization: `Bearer ${herald.secrets.service_token}` } });
  return { status: res.status, body: await res.json() };
}

/** The rejection of a promise (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<APIError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(APIError);
  return outcome.error as APIError;
}

/** Every item, through the SDK's auto-pagination. */
async function all<T>(pages: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of pages) items.push(item);
  return items;
}

/** Optional fields: absent, or of the type the SDK declares. */
function optional(value: unknown, check: (value: unknown) => void): void {
  if (value !== undefined) check(value);
}
const isString = (value: unknown) => expect(typeof value).toBe('string');
const isIso = (value: unknown) => expect(value).toMatch(ISO_DATE_TIME);

// ── Shape checks: the SDK's response types, field by field ───────────────────────────

function expectWorkflow(workflow: KnockMgmt.Workflow): void {
  expect(typeof workflow.active).toBe('boolean');
  expect(typeof workflow.valid).toBe('boolean');
  isIso(workflow.created_at);
  isIso(workflow.updated_at);
  for (const field of ['environment', 'key', 'name', 'sha'] as const) isString(workflow[field]);
  expect(workflow.sha.length).toBeGreaterThan(0);
  expect(Array.isArray(workflow.steps)).toBe(true);
  for (const step of workflow.steps) expectStep(step);
  optional(workflow.categories, (v) => expect((v as unknown[]).every((c) => typeof c === 'string')).toBe(true));
  optional(workflow.conditions, (v) => expect(v === null || typeof v === 'object').toBe(true));
  optional(workflow.description, isString);
  optional(workflow.settings, (v) => {
    const settings = v as KnockMgmt.Workflow.Settings;
    optional(settings.is_commercial, (b) => expect(typeof b).toBe('boolean'));
    optional(settings.override_preferences, (b) => expect(typeof b).toBe('boolean'));
  });
  optional(workflow.trigger_data_json_schema, (v) => expect(typeof v).toBe('object'));
  optional(workflow.trigger_frequency, (v) => expect(['every_trigger', 'once_per_recipient', 'once_per_recipient_per_tenant']).toContain(v));
}

function expectStep(step: KnockMgmt.WorkflowStep): void {
  isString(step.ref);
  expect(STEP_TYPES).toContain(step.type);
  if (step.type === 'channel') {
    expect(typeof step.template).toBe('object');
    expect(typeof (step.channel_key ?? step.channel_group_key)).toBe('string');
  } else if (step.type === 'branch') {
    for (const branch of step.branches) for (const inner of branch.steps ?? []) expectStep(inner);
  } else if ('settings' in step) {
    expect(typeof step.settings).toBe('object');
  }
}

function expectEmailLayout(layout: KnockMgmt.EmailLayout): void {
  isIso(layout.created_at);
  for (const field of ['html_layout', 'key', 'name', 'sha', 'text_layout'] as const) isString(layout[field]);
  optional(layout.environment, isString);
  optional(layout.footer_links, (v) => (v as KnockMgmt.EmailLayout.FooterLink[]).forEach((link) => expect(link).toEqual({ text: expect.any(String), url: expect.any(String) })));
  optional(layout.is_mjml, (v) => expect(typeof v).toBe('boolean'));
  optional(layout.updated_at, isIso);
}

function expectPartial(partial: KnockMgmt.Partial): void {
  for (const field of ['content', 'key', 'name'] as const) isString(partial[field]);
  isIso(partial.inserted_at);
  isIso(partial.updated_at);
  expect(['html', 'text', 'json', 'markdown']).toContain(partial.type);
  expect(typeof partial.valid).toBe('boolean');
  optional(partial.description, isString);
  optional(partial.environment, isString);
  optional(partial.icon_name, isString);
  optional(partial.input_schema, (v) => expect(Array.isArray(v)).toBe(true));
  optional(partial.visual_block_enabled, (v) => expect(typeof v).toBe('boolean'));
}

function expectTranslation(translation: KnockMgmt.Translation): void {
  for (const field of ['content', 'locale_code', 'namespace'] as const) isString(translation[field]);
  expect(['json', 'po']).toContain(translation.format);
  isIso(translation.inserted_at);
  isIso(translation.updated_at);
  optional(translation.tenant, isString);
}

function expectCommit(commit: KnockMgmt.Commit): void {
  isString(commit.id);
  isString(commit.environment);
  isIso(commit.created_at);
  isString(commit.author.email);
  optional(commit.author.name, (v) => expect(v === null || typeof v === 'string').toBe(true));
  expect(RESOURCE_TYPES).toContain(commit.resource.type);
  isString(commit.resource.identifier);
  optional(commit.commit_message, isString);
}

// ── Fixtures ─────────────────────────────────────────────────────────────────────────

function workflow(name: string, subject = 'Hello {{ recipient.name }}'): KnockMgmt.WorkflowUpsertParams.Workflow {
  return {
    name,
    description: `${name} workflow`,
    categories: ['onboarding'],
    steps: [
      { ref: 'email_1', type: 'channel', channel_key: 'postmark', template: { settings: { layout_key: 'default' }, subject, html_body: '<p>{{ data.message }}</p>' } },
      { ref: 'delay_1', type: 'delay', settings: { delay_for: { unit: 'minutes', value: 10 } } },
      {
        ref: 'branch_1',
        type: 'branch',
        branches: [
          {
            name: 'VIP',
            conditions: { all: [{ variable: 'recipient.vip', operator: 'equal_to', argument: 'true' }] },
            steps: [{ ref: 'in_app_feed_2', type: 'channel', channel_key: 'knock-feed', template: { markdown_body: 'VIP: {{ data.message }}' } }],
          },
          { name: 'Default', steps: [] },
        ],
      },
      { ref: 'in_app_feed_1', type: 'channel', channel_key: 'knock-feed', template: { markdown_body: 'New: **{{ data.message }}**', action_url: '{{ vars.app_url }}' } },
    ],
  };
}

const LAYOUT: KnockMgmt.EmailLayoutUpsertParams.EmailLayout = {
  name: 'Default',
  html_layout: '<html><body>{{ content }}</body></html>',
  text_layout: '{{ content }}',
  footer_links: [{ text: 'Docs', url: 'https://example.com/docs' }],
};
const PARTIAL: KnockMgmt.PartialUpsertParams.Partial = { name: 'Signature', type: 'html', content: '<b>{{ name }}</b>', description: 'Sign-off' };

/** Development commits of one resource, newest first. */
const commitsOf = (resource_type: KnockMgmt.CommitListParams['resource_type'], resource_id?: string) =>
  all(mgmt.commits.list({ ...DEV, resource_type, ...(resource_id ? { resource_id } : {}) }));

describe('@knocklabs/mgmt: workflows', () => {
  it('validate() answers the presented workflow without saving it', async () => {
    const { workflow: validated } = await mgmt.workflows.validate('welcome', { ...DEV, workflow: workflow('Welcome') });
    expectWorkflow(validated);
    expect(validated).toMatchObject({ key: 'welcome', name: 'Welcome', environment: 'development', valid: true });
    expect(validated.steps.map((s) => s.ref)).toEqual(['email_1', 'delay_1', 'branch_1', 'in_app_feed_1']);
    expect(await rejection(mgmt.workflows.retrieve('welcome', DEV))).toBeInstanceOf(NotFoundError);
  });

  it('validate() and upsert() refuse an invalid workflow with 422 naming each field', async () => {
    const bad = workflow('Bad', 'Hi {{ recipient.name');
    for (const call of [mgmt.workflows.validate('bad', { ...DEV, workflow: bad }), mgmt.workflows.upsert('bad', { ...DEV, workflow: bad })]) {
      const error = await rejection(call);
      expect(error).toBeInstanceOf(UnprocessableEntityError);
      const body = error.error as { message: string; errors: Array<{ field: string; message: string }> };
      expect(body.errors.map((e) => e.field)).toContain('workflow.steps.0.template.subject');
    }
    expect(await rejection(mgmt.workflows.retrieve('bad', DEV))).toBeInstanceOf(NotFoundError);
  });

  it('upsert() saves an uncommitted working copy; retrieve() shows it unless hide_uncommitted_changes', async () => {
    const { workflow: saved } = await mgmt.workflows.upsert('welcome', { ...DEV, workflow: workflow('Welcome') });
    expectWorkflow(saved);
    expect(saved).toMatchObject({ key: 'welcome', name: 'Welcome', description: 'Welcome workflow', categories: ['onboarding'], environment: 'development', active: true, valid: true });
    expect(saved).not.toHaveProperty('__annotation');

    const retrieved = await mgmt.workflows.retrieve('welcome', DEV);
    expectWorkflow(retrieved);
    expect(retrieved).toEqual(saved);
    expect(retrieved.steps[2]).toMatchObject({ type: 'branch', branches: [{ name: 'VIP', steps: [{ ref: 'in_app_feed_2' }] }, { name: 'Default' }] });
    expect(await rejection(mgmt.workflows.retrieve('welcome', { ...DEV, hide_uncommitted_changes: true }))).toBeInstanceOf(NotFoundError);

    // Upserting the same content again changes nothing (same sha).
    const { workflow: again } = await mgmt.workflows.upsert('welcome', { ...DEV, workflow: workflow('Welcome') });
    expect(again.sha).toBe(saved.sha);
  });

  it('upsert() with commit commits at once, and annotate adds the CLI file hints', async () => {
    for (const key of ['digest', 'alerts']) {
      const { workflow: saved } = await mgmt.workflows.upsert(key, { ...DEV, workflow: workflow(key), commit: true, commit_message: `Add ${key}`, annotate: true });
      expectWorkflow(saved);
      const annotated = saved as KnockMgmt.Workflow & { __annotation?: { readonly_fields: string[] } };
      expect(annotated.__annotation?.readonly_fields).toContain('key');
      const committed = await mgmt.workflows.retrieve(key, { ...DEV, hide_uncommitted_changes: true });
      expect(committed.sha).toBe(saved.sha);
    }
    const [commit] = await commitsOf('workflow', 'digest');
    expect(commit).toMatchObject({ commit_message: 'Add digest', environment: 'development', resource: { type: 'workflow', identifier: 'digest' } });
  });

  it('list() pages in key order, and hides uncommitted workflows on request', async () => {
    const listed = await all(mgmt.workflows.list(DEV));
    listed.forEach(expectWorkflow);
    expect(listed.map((w) => w.key)).toEqual(['alerts', 'digest', 'welcome']);

    const first = await mgmt.workflows.list({ ...DEV, limit: 1 });
    expect(first.entries.map((w) => w.key)).toEqual(['alerts']);
    expect(first.page_info).toMatchObject({ after: expect.any(String), page_size: 1 });
    const pages: string[][] = [];
    for await (const page of first.iterPages()) pages.push(page.entries.map((w) => w.key));
    expect(pages).toEqual([['alerts'], ['digest'], ['welcome']]);
    expect((await all(mgmt.workflows.list({ ...DEV, limit: 2 }))).map((w) => w.key)).toEqual(['alerts', 'digest', 'welcome']);

    const committedOnly = await all(mgmt.workflows.list({ ...DEV, hide_uncommitted_changes: true }));
    expect(committedOnly.map((w) => w.key)).toEqual(['alerts', 'digest']);
    expect(await all(mgmt.workflows.list({ environment: 'production' }))).toEqual([]);
  });

  it('activate() switches a workflow off and on in one environment without a commit', async () => {
    const commitsBefore = await commitsOf('workflow', 'digest');
    const { workflow: off } = await mgmt.workflows.activate('digest', { ...DEV, status: false });
    expectWorkflow(off);
    expect(off).toMatchObject({ key: 'digest', active: false });
    expect((await mgmt.workflows.retrieve('digest', DEV)).active).toBe(false);
    const { workflow: on } = await mgmt.workflows.activate('digest', { ...DEV, status: true });
    expect(on.active).toBe(true);
    expect(await commitsOf('workflow', 'digest')).toEqual(commitsBefore);
    expect(await rejection(mgmt.workflows.activate('nope', { ...DEV, status: true }))).toBeInstanceOf(NotFoundError);
  });

  it('upsert() into production is refused with 403 naming the rule', async () => {
    const error = await rejection(mgmt.workflows.upsert('welcome', { environment: 'production', workflow: workflow('Hot fix') }));
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(error.error).toMatchObject({ code: 'edits_only_in_development' });
  });
});

describe('@knocklabs/mgmt: email layouts and partials', () => {
  it('email layouts: validate, upsert, retrieve, list', async () => {
    const { email_layout: validated } = await mgmt.emailLayouts.validate('default', { ...DEV, email_layout: LAYOUT });
    expectEmailLayout(validated);
    expect(validated).toMatchObject({ key: 'default', ...LAYOUT });
    const invalid = await rejection(mgmt.emailLayouts.validate('default', { ...DEV, email_layout: { ...LAYOUT, html_layout: '<html>{{ content </html>' } }));
    expect(invalid).toBeInstanceOf(UnprocessableEntityError);
    expect((invalid.error as { errors: Array<{ field: string }> }).errors.map((e) => e.field)).toContain('email_layout.html_layout');

    const { email_layout: saved } = await mgmt.emailLayouts.upsert('default', { ...DEV, email_layout: LAYOUT });
    expectEmailLayout(saved);
    expect(saved).toMatchObject({ key: 'default', environment: 'development', ...LAYOUT });
    const retrieved = await mgmt.emailLayouts.retrieve('default', DEV);
    expectEmailLayout(retrieved);
    expect(retrieved).toEqual(saved);
    expect(await rejection(mgmt.emailLayouts.retrieve('default', { ...DEV, hide_uncommitted_changes: true }))).toBeInstanceOf(NotFoundError);

    await mgmt.emailLayouts.upsert('transactional', { ...DEV, email_layout: { ...LAYOUT, name: 'Transactional' }, commit: true, commit_message: 'Transactional layout' });
    const listed = await all(mgmt.emailLayouts.list({ ...DEV, limit: 1 }));
    listed.forEach(expectEmailLayout);
    expect(listed.map((l) => l.key)).toEqual(['default', 'transactional']);
    expect((await all(mgmt.emailLayouts.list({ ...DEV, hide_uncommitted_changes: true }))).map((l) => l.key)).toEqual(['transactional']);
  });

  it('partials: validate, upsert, retrieve, list', async () => {
    const { partial: validated } = await mgmt.partials.validate('signature', { ...DEV, partial: PARTIAL });
    expectPartial(validated);
    expect(validated).toMatchObject({ key: 'signature', ...PARTIAL, valid: true });
    const invalid = await rejection(mgmt.partials.validate('signature', { ...DEV, partial: { ...PARTIAL, content: '{% if %}' } }));
    expect(invalid).toBeInstanceOf(UnprocessableEntityError);
    expect((invalid.error as { errors: Array<{ field: string }> }).errors.map((e) => e.field)).toContain('partial.content');

    const { partial: saved } = await mgmt.partials.upsert('signature', { ...DEV, partial: PARTIAL });
    expectPartial(saved);
    expect(saved).toMatchObject({ key: 'signature', environment: 'development', ...PARTIAL });
    const retrieved = await mgmt.partials.retrieve('signature', DEV);
    expectPartial(retrieved);
    expect(retrieved).toEqual(saved);
    expect(await rejection(mgmt.partials.retrieve('signature', { ...DEV, hide_uncommitted_changes: true }))).toBeInstanceOf(NotFoundError);

    await mgmt.partials.upsert('footer', { ...DEV, partial: { name: 'Footer', type: 'markdown', content: '_{{ company }}_' }, commit: true });
    const listed = await all(mgmt.partials.list({ ...DEV, limit: 1 }));
    listed.forEach(expectPartial);
    expect(listed.map((p) => `${p.key}:${p.type}`)).toEqual(['footer:markdown', 'signature:html']);
    expect((await all(mgmt.partials.list({ ...DEV, hide_uncommitted_changes: true }))).map((p) => p.key)).toEqual(['footer']);
  });
});

describe('@knocklabs/mgmt: translations', () => {
  const content = (value: Record<string, string>) => JSON.stringify(value);

  it('validate() and upsert() a default-namespace translation (namespace "")', async () => {
    const { translation: validated } = await mgmt.translations.validate('en', { ...DEV, translation: { content: content({ hello: 'Hello' }), format: 'json' } });
    expectTranslation(validated);
    expect(validated).toMatchObject({ locale_code: 'en', namespace: '', format: 'json' });
    const invalid = await rejection(mgmt.translations.validate('en', { ...DEV, translation: { content: '{"hello": ', format: 'json' } }));
    expect(invalid).toBeInstanceOf(UnprocessableEntityError);

    const { translation: saved } = await mgmt.translations.upsert('en', { ...DEV, namespace: '', translation: { content: content({ hello: 'Hello' }), format: 'json' } });
    expectTranslation(saved);
    expect(saved).toMatchObject({ locale_code: 'en', namespace: '', format: 'json' });
    expect(JSON.parse(saved.content)).toEqual({ hello: 'Hello' });

    const { translation: retrieved } = await mgmt.translations.retrieve('en', DEV);
    expectTranslation(retrieved);
    expect(retrieved).toEqual(saved);
    expect(await rejection(mgmt.translations.retrieve('en', { ...DEV, hide_uncommitted_changes: true }))).toBeInstanceOf(NotFoundError);
  });

  it('upsert() and retrieve() a namespaced translation', async () => {
    const { translation: saved } = await mgmt.translations.upsert('en', { ...DEV, namespace: 'admin', translation: { content: content({ welcome: 'Welcome, admin' }), format: 'json' }, commit: true, commit_message: 'Admin strings' });
    expectTranslation(saved);
    expect(saved).toMatchObject({ locale_code: 'en', namespace: 'admin' });
    const { translation: retrieved } = await mgmt.translations.retrieve('en', { ...DEV, namespace: 'admin', hide_uncommitted_changes: true });
    expectTranslation(retrieved);
    expect(JSON.parse(retrieved.content)).toEqual({ welcome: 'Welcome, admin' });
    const [commit] = await commitsOf('translation', 'en/admin');
    expect(commit).toMatchObject({ resource: { type: 'translation', identifier: 'en/admin' }, commit_message: 'Admin strings' });

    // The Knock CLI sends the namespace in the body too: the same content is the same version.
    const cliShaped = await fetch(`${herald.url}/mgmt/v1/translations/en?environment=development&namespace=admin`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${herald.secrets.service_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ translation: { locale_code: 'en', namespace: 'admin', content: content({ welcome: 'Welcome, admin' }), format: 'json' } }),
    });
    expect(cliShaped.status).toBe(200);
    const nothing = await rejection(mgmt.commits.commitAll({ ...DEV, resource_type: 'translation', resource_id: 'en/admin' }));
    expect(nothing).toBeInstanceOf(UnprocessableEntityError);
  });

  it('list() filters by locale_code and namespace, across pages', async () => {
    await mgmt.translations.upsert('fr', { ...DEV, namespace: '', translation: { content: content({ hello: 'Bonjour' }), format: 'json' } });
    await mgmt.translations.upsert('fr', { ...DEV, namespace: 'admin', translation: { content: content({ welcome: 'Bienvenue' }), format: 'json' } });

    const listed = await all(mgmt.translations.list({ ...DEV, limit: 1 }));
    listed.forEach(expectTranslation);
    expect(listed.map((t) => `${t.locale_code}/${t.namespace}`)).toEqual(['en/', 'en/admin', 'fr/', 'fr/admin']);

    const french = await all(mgmt.translations.list({ ...DEV, locale_code: 'fr', limit: 1 }));
    expect(french.map((t) => `${t.locale_code}/${t.namespace}`)).toEqual(['fr/', 'fr/admin']);
    const admin = await all(mgmt.translations.list({ ...DEV, namespace: 'admin', limit: 1 }));
    expect(admin.map((t) => `${t.locale_code}/${t.namespace}`)).toEqual(['en/admin', 'fr/admin']);
    const frAdmin = await all(mgmt.translations.list({ ...DEV, locale_code: 'fr', namespace: 'admin' }));
    expect(frAdmin.map((t) => JSON.parse(t.content))).toEqual([{ welcome: 'Bienvenue' }]);
    expect((await all(mgmt.translations.list({ ...DEV, hide_uncommitted_changes: true }))).map((t) => `${t.locale_code}/${t.namespace}`)).toEqual(['en/admin']);
  });
});

describe('@knocklabs/mgmt: commits', () => {
  let everything: KnockMgmt.Commit[];

  it('commitAll() commits one resource, then everything left, and then has nothing to commit', async () => {
    const one = await mgmt.commits.commitAll({ ...DEV, resource_type: 'workflow', resource_id: 'welcome', commit_message: 'Welcome v1' });
    expect(one).toMatchObject({ result: 'success' });
    const [welcome] = await commitsOf('workflow', 'welcome');
    expect(welcome).toMatchObject({ commit_message: 'Welcome v1', resource: { identifier: 'welcome' } });
    // Other working copies are untouched.
    expect(await rejection(mgmt.partials.retrieve('signature', { ...DEV, hide_uncommitted_changes: true }))).toBeInstanceOf(NotFoundError);

    const rest = await mgmt.commits.commitAll({ ...DEV, commit_message: 'Everything else' });
    expect(rest).toMatchObject({ result: 'success' });
    await mgmt.partials.retrieve('signature', { ...DEV, hide_uncommitted_changes: true });
    const nothing = await rejection(mgmt.commits.commitAll(DEV));
    expect(nothing).toBeInstanceOf(UnprocessableEntityError);
    expect(nothing.error).toMatchObject({ code: 'nothing_to_commit' });
  });

  it('list() pages through every commit, newest first, in the SDK Commit shape', async () => {
    everything = await all(mgmt.commits.list(DEV));
    everything.forEach(expectCommit);
    expect(everything.map((c) => `${c.resource.type}:${c.resource.identifier}`).sort()).toEqual([
      'email_layout:default',
      'email_layout:transactional',
      'partial:footer',
      'partial:signature',
      'translation:en',
      'translation:en/admin',
      'translation:fr',
      'translation:fr/admin',
      'workflow:alerts',
      'workflow:digest',
      'workflow:welcome',
    ]);
    const times = everything.map((c) => Date.parse(c.created_at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(everything.every((c) => c.environment === 'development' && c.author.email === 'owner@herald.local')).toBe(true);

    const first = await mgmt.commits.list({ ...DEV, limit: 4 });
    expect(first.page_info).toMatchObject({ after: expect.any(String), page_size: 4 });
    const pages: string[][] = [];
    for await (const page of first.iterPages()) pages.push(page.entries.map((c) => c.id));
    expect(pages.map((p) => p.length)).toEqual([4, 4, 3]);
    expect(pages.flat()).toEqual(everything.map((c) => c.id));
    const second = await first.getNextPage();
    // Herald also answers the spec's `before` cursor (not in the SDK's PageInfo type).
    expect((second.page_info as { before?: string | null }).before).toEqual(expect.any(String));
  });

  it('list() filters by resource_type (one or several), resource_id, promoted and environment', async () => {
    const workflows = await all(mgmt.commits.list({ ...DEV, resource_type: 'workflow' }));
    expect(new Set(workflows.map((c) => c.resource.identifier))).toEqual(new Set(['alerts', 'digest', 'welcome']));
    const several = await all(mgmt.commits.list({ ...DEV, resource_type: ['partial', 'email_layout'] }));
    expect(several.map((c) => c.resource.type).sort()).toEqual(['email_layout', 'email_layout', 'partial', 'partial']);
    expect((await commitsOf('translation', 'en/admin')).map((c) => c.resource.identifier)).toEqual(['en/admin']);
    expect((await all(mgmt.commits.list({ ...DEV, promoted: false }))).map((c) => c.id)).toEqual(everything.map((c) => c.id));
    expect(await all(mgmt.commits.list({ ...DEV, promoted: true }))).toEqual([]);
    expect(await all(mgmt.commits.list({ environment: 'production' }))).toEqual([]);
    expect(await rejection(mgmt.commits.list({ environment: 'nowhere' }))).toBeInstanceOf(NotFoundError);
  });

  it('retrieve() returns one commit, and 404 for an unknown id', async () => {
    const [latest] = everything;
    const commit = await mgmt.commits.retrieve(latest.id);
    expectCommit(commit);
    expect(commit).toMatchObject({ id: latest.id, environment: 'development', resource: latest.resource, commit_message: latest.commit_message });
    expect(await rejection(mgmt.commits.retrieve('00000000-0000-4000-8000-000000000000'))).toBeInstanceOf(NotFoundError);
  });

  it('promoteOne() moves one commit into the next environment, once', async () => {
    const [welcome] = await commitsOf('workflow', 'welcome');
    const preview = await http('PUT', `/commits/${welcome.id}/promote?dry_run=true`);
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ dry_run: true, changes: [expect.objectContaining({ resource: { type: 'workflow', identifier: 'welcome' } })] });
    expect(await all(mgmt.commits.list({ environment: 'production' }))).toEqual([]);

    const { commit } = await mgmt.commits.promoteOne(welcome.id);
    expectCommit(commit);
    expect(commit).toMatchObject({ environment: 'production', resource: { type: 'workflow', identifier: 'welcome' } });
    expect(commit.id).not.toBe(welcome.id);
    expect(await mgmt.commits.retrieve(commit.id)).toMatchObject({ id: commit.id, environment: 'production' });
    expect((await mgmt.workflows.retrieve('welcome', { environment: 'production' })).name).toBe('Welcome');
    expect((await all(mgmt.commits.list({ ...DEV, promoted: true }))).map((c) => c.id)).toEqual([welcome.id]);

    const again = await rejection(mgmt.commits.promoteOne(welcome.id));
    expect(again).toBeInstanceOf(ConflictError);
    expect(again.headers?.get('x-should-retry')).toBe('false');
  });

  it('promoteAll() previews with dry_run (plain HTTP), then promotes what is left, by type or all', async () => {
    const preview = await http('PUT', '/commits/promote?to_environment=production&dry_run=true');
    expect(preview.status).toBe(200);
    expect(preview.body.dry_run).toBe(true);
    expect(preview.body.changes).toHaveLength(10);
    expect(await all(mgmt.commits.list({ environment: 'production' }))).toHaveLength(1);

    const partials = await mgmt.commits.promoteAll({ to_environment: 'production', resource_type: 'partial' });
    expect(partials).toMatchObject({ result: 'success' });
    expect((await all(mgmt.partials.list({ environment: 'production' }))).map((p) => p.key)).toEqual(['footer', 'signature']);
    expect(await all(mgmt.workflows.list({ environment: 'production' }))).toHaveLength(1);

    const rest = await mgmt.commits.promoteAll({ to_environment: 'production' });
    expect(rest).toMatchObject({ result: 'success' });
    expect(await all(mgmt.commits.list({ ...DEV, promoted: false }))).toEqual([]);
    const production = await all(mgmt.commits.list({ environment: 'production' }));
    production.forEach(expectCommit);
    expect(production).toHaveLength(11);
    expect(await all(mgmt.commits.list({ environment: 'production', promoted: true }))).toHaveLength(11);
    const { translation } = await mgmt.translations.retrieve('fr', { environment: 'production', namespace: 'admin' });
    expect(JSON.parse(translation.content)).toEqual({ welcome: 'Bienvenue' });
    expect(await mgmt.emailLayouts.retrieve('default', { environment: 'production' })).toMatchObject({ key: 'default', environment: 'production', html_layout: LAYOUT.html_layout });
  });
});

describe("Herald's additions over plain HTTP: diff, revert, rollback", () => {
  it('diff shows what a commit changed', async () => {
    await mgmt.workflows.upsert('welcome', { ...DEV, workflow: workflow('Welcome v2'), commit: true, commit_message: 'v2' });
    const [v2] = await commitsOf('workflow', 'welcome');
    const { status, body } = await http('GET', `/commits/${v2.id}/diff`);
    expect(status).toBe(200);
    expectCommit(body.commit);
    expect(body.commit.id).toBe(v2.id);
    expect(body.before.name).toBe('Welcome');
    expect(body.after.name).toBe('Welcome v2');
    expect(body.diff).toContainEqual({ op: 'replace', path: '/name', value: 'Welcome v2' });
  });

  it('revert restores the state before a commit as a new commit', async () => {
    const [v2] = await commitsOf('workflow', 'welcome');
    const { status, body } = await http('PUT', `/commits/${v2.id}/revert`);
    expect(status).toBe(200);
    expectCommit(body.commit);
    expect(body.commit).toMatchObject({ environment: 'development', reverts: v2.id });
    expect((await mgmt.workflows.retrieve('welcome', { ...DEV, hide_uncommitted_changes: true })).name).toBe('Welcome');
    const [latest] = await commitsOf('workflow', 'welcome');
    expect(latest.id).toBe(body.commit.id);
  });

  it('rollback returns production to an earlier commit of its own (dry run first)', async () => {
    await mgmt.workflows.upsert('digest', { ...DEV, workflow: workflow('Digest v2'), commit: true });
    await mgmt.commits.promoteAll({ to_environment: 'production', resource_type: 'workflow', resource_id: 'digest' });
    expect((await mgmt.workflows.retrieve('digest', { environment: 'production' })).name).toBe('Digest v2');
    const history = await all(mgmt.commits.list({ environment: 'production', resource_type: 'workflow', resource_id: 'digest' }));
    expect(history).toHaveLength(2);
    const first = history[1];

    const preview = await http('PUT', `/environments/production/rollback?to_commit=${first.id}&dry_run=true`);
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ result: 'dry_run', dry_run: true });
    expect(preview.body.restored.map((r: { resource: { identifier: string } }) => r.resource.identifier)).toEqual(['digest']);
    expect((await mgmt.workflows.retrieve('digest', { environment: 'production' })).name).toBe('Digest v2');

    const { status, body } = await http('PUT', `/environments/production/rollback?to_commit=${first.id}&resource_type=workflow`);
    expect(status).toBe(200);
    expect(body.commits).toHaveLength(1);
    expectCommit(body.commits[0]);
    expect(body.commits[0]).toMatchObject({ environment: 'production', rollback_of: first.id });
    expect((await mgmt.workflows.retrieve('digest', { environment: 'production' })).name).toBe('digest');
    const [latest] = await all(mgmt.commits.list({ environment: 'production', resource_type: 'workflow', resource_id: 'digest' }));
    expect(latest.id).toBe(body.commits[0].id);
  });
});

describe('@knocklabs/mgmt: translation list filters are literal', () => {
  it('a namespace with "_" matches only itself, not as a wildcard', async () => {
    for (const namespace of ['x_y', 'xzy']) {
      await mgmt.translations.upsert('de', { ...DEV, namespace, translation: { content: JSON.stringify({ ns: namespace }), format: 'json' } });
    }
    const listed = await all(mgmt.translations.list({ ...DEV, namespace: 'x_y' }));
    expect(listed.map((t) => `${t.locale_code}/${t.namespace}`)).toEqual(['de/x_y']);
    expect((await all(mgmt.translations.list({ ...DEV, locale_code: 'de', limit: 1 }))).map((t) => t.namespace)).toEqual(['x_y', 'xzy']);
  });
});
