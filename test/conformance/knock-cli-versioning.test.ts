/**
 * Conformance: the real Knock CLI (`@knocklabs/cli`) managing versioned content on Herald —
 * pushing workflows, layouts, partials and translations from fixture directories,
 * committing, listing and promoting commits, and pulling production back into files.
 *
 * The steps build on each other (one Herald for the file), in this order:
 * push → commit → list/get → push --commit → promote all → promote one → pull → re-push.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

const run = promisify(execFile);
const KNOCK_BIN = resolve(import.meta.dirname, '../../node_modules/.bin/knock');
/** The CLI takes ~1-2 s to start; some tests run it several times. */
const CLI_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 120_000;

let herald: TestHerald;
/** HOME / XDG for the CLI: empty, so it reads no user config. */
let home: string;
/** The working directory: fixture files live here; no knock.json or .knockbranch here or above. */
let project: string;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `knock <args>` in the project dir with an isolated environment, pointed at Herald. */
async function knock(args: string[], cwd = project): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = {
    PATH: [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter),
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CACHE_HOME: join(home, 'cache'),
    XDG_STATE_HOME: join(home, 'state'),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    TERM: 'dumb',
    COLUMNS: '250',
  };
  const connection = ['--api-origin', `${herald.url}/mgmt`, '--service-token', herald.secrets.service_token];
  try {
    const { stdout, stderr } = await run(KNOCK_BIN, [...args, ...connection], { env, cwd, timeout: CLI_TIMEOUT_MS, maxBuffer: 10 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string; killed?: boolean };
    if (e.killed || typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Runs the CLI and expects exit code 0 (printing its output on failure). */
async function knockOk(args: string[], cwd = project): Promise<string> {
  const result = await knock(args, cwd);
  expect(result.code, `knock ${args.join(' ')}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(0);
  return result.stdout;
}

/** Plain management API calls, for checking what the CLI did. */
async function mgmt(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${herald.url}/mgmt/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${herald.secrets.service_token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function writeFiles(base: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(base, path)), { recursive: true });
    await writeFile(join(base, path), content);
  }
}

/** Every file under `dir`, by relative path. */
async function readTree(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[relative(dir, path)] = await readFile(path, 'utf8');
  }
  return files;
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

// ── Fixtures ─────────────────────────────────────────────────────────────────────────

const WELCOME_HTML = '<p>Hi {{ recipient.name }}, welcome to {{ vars.app_name }}!</p>\n';
const WELCOME_FEED = 'You have a **new** comment from {{ actor.name }}\n';
const VIP_FEED = 'Thanks for being a **VIP**\n';

const welcomeWorkflow = {
  name: 'Welcome',
  description: 'Sent when a user signs up',
  categories: ['onboarding'],
  steps: [
    {
      ref: 'email_1',
      type: 'channel',
      channel_key: 'postmark',
      template: {
        settings: { layout_key: 'default' },
        subject: 'Hello {{ recipient.name }}',
        'html_body@': 'email_1/html_body.html',
      },
    },
    { ref: 'delay_1', type: 'delay', settings: { delay_for: { unit: 'minutes', value: 5 } } },
    {
      ref: 'branch_1',
      type: 'branch',
      branches: [
        {
          name: 'VIP',
          conditions: { all: [{ variable: 'recipient.vip', operator: 'equal_to', argument: 'true' }] },
          steps: [
            {
              ref: 'in_app_feed_2',
              type: 'channel',
              channel_key: 'knock-feed',
              template: { 'markdown_body@': 'in_app_feed_2/markdown_body.md', action_url: '{{ vars.app_url }}/vip' },
            },
          ],
        },
        { name: 'Default', steps: [] },
      ],
    },
    {
      ref: 'in_app_feed_1',
      type: 'channel',
      channel_key: 'knock-feed',
      template: { 'markdown_body@': 'in_app_feed_1/markdown_body.md', action_url: '{{ vars.app_url }}' },
    },
  ],
};

const digestWorkflow = {
  name: 'Digest',
  steps: [
    {
      ref: 'email_1',
      type: 'channel',
      channel_key: 'postmark',
      template: { subject: 'Your digest', 'html_body@': 'email_1/html_body.html', text_body: 'You have {{ data.count }} updates' },
    },
  ],
};

const LAYOUT_HTML = '<html><body>{{ content }}<footer>{{ footer_links }}</footer></body></html>\n';
const LAYOUT_TEXT = '{{ content }}\n';
const PARTIAL_HTML = '<b>{{ name }}</b>\n';
const EN = { hello: 'Hello', goodbye: 'Goodbye {{ name }}' };
const EN_ADMIN = { welcome: 'Welcome, admin' };

const FIXTURES: Record<string, string> = {
  'workflows/welcome/workflow.json': json(welcomeWorkflow),
  'workflows/welcome/email_1/html_body.html': WELCOME_HTML,
  'workflows/welcome/in_app_feed_1/markdown_body.md': WELCOME_FEED,
  'workflows/welcome/in_app_feed_2/markdown_body.md': VIP_FEED,
  'layouts/default/layout.json': json({ name: 'Default', 'html_layout@': 'html_layout.html', 'text_layout@': 'text_layout.txt', footer_links: [{ text: 'Docs', url: 'https://example.com/docs' }] }),
  'layouts/default/html_layout.html': LAYOUT_HTML,
  'layouts/default/text_layout.txt': LAYOUT_TEXT,
  'partials/signature/partial.json': json({ name: 'Signature', type: 'html', 'content@': 'content.html' }),
  'partials/signature/content.html': PARTIAL_HTML,
  'translations/en/en.json': json(EN),
  'translations/en/admin.en.json': json(EN_ADMIN),
};

beforeAll(async () => {
  herald = await startTestHerald();
  home = await mkdtemp(join(tmpdir(), 'herald-knock-home-'));
  project = await mkdtemp(join(tmpdir(), 'herald-knock-project-'));
  await writeFiles(project, FIXTURES);
});
afterAll(async () => {
  await herald?.close();
  for (const dir of [home, project]) if (dir) await rm(dir, { recursive: true, force: true });
});

interface CliCommit {
  id: string;
  resource: { type: string; identifier: string };
  author: { email: string; name?: string | null };
  commit_message?: string;
  environment: string;
  created_at: string;
}

async function commitListJson(...flags: string[]): Promise<CliCommit[]> {
  const stdout = await knockOk(['commit', 'list', '--json', ...flags]);
  const body = JSON.parse(stdout) as { entries: CliCommit[]; page_info: unknown };
  expect(body.page_info).toBeDefined();
  return body.entries;
}

/** The sha of a resource's working copy and of its committed version (GET with and without hide_uncommitted_changes). */
async function shas(path: string, environment = 'development'): Promise<{ working: string; committed: string }> {
  const sep = path.includes('?') ? '&' : '?';
  const working = await mgmt('GET', `${path}${sep}environment=${environment}`);
  const committed = await mgmt('GET', `${path}${sep}environment=${environment}&hide_uncommitted_changes=true`);
  expect(working.status).toBe(200);
  expect(committed.status).toBe(200);
  const sha = (body: any) => body.sha ?? body.translation?.sha ?? JSON.stringify(body.content ?? body.translation?.content);
  return { working: sha(working.json), committed: sha(committed.json) };
}

describe('knock CLI: versioned content on Herald', () => {
  it('pushes workflows with templates read from files, and rewrites the directory from the annotated response', async () => {
    const stdout = await knockOk(['workflow', 'push', '--all', '--workflows-dir', 'workflows', '--force']);
    expect(stdout).toContain('Successfully pushed 1 workflow(s) to `development` environment');
    expect(stdout).toMatch(/^\s+welcome$/m);

    const { json: stored } = await mgmt('GET', '/workflows/welcome?environment=development');
    expect(stored.steps[0].template.html_body).toBe(WELCOME_HTML);
    expect(stored.steps[3].template.markdown_body).toBe(WELCOME_FEED);
    expect(stored.steps[2].branches[0].steps[0].template.markdown_body).toBe(VIP_FEED);
    // `field@` references and `$schema` are local file layout, not content.
    expect(JSON.stringify(stored)).not.toMatch(/@"|\$schema/);
    // Pushed, not committed: nothing runs it yet.
    expect((await mgmt('GET', '/workflows/welcome?environment=development&hide_uncommitted_changes=true')).status).toBe(404);

    // The CLI rewrote the directory from the response: templates stay in their files.
    const tree = await readTree(join(project, 'workflows/welcome'));
    expect(tree['email_1/html_body.html']).toBe(WELCOME_HTML);
    expect(tree['in_app_feed_1/markdown_body.md']).toBe(WELCOME_FEED);
    expect(tree['in_app_feed_2/markdown_body.md']).toBe(VIP_FEED);
    const local = JSON.parse(tree['workflow.json']);
    expect(local.steps[0].template['html_body@']).toBe('email_1/html_body.html');
    expect(local.steps[0].template.html_body).toBeUndefined();
    expect(local.__readonly).toMatchObject({ key: 'welcome', active: true, valid: true });
  }, TEST_TIMEOUT_MS);

  it('pushes a layout, a partial and translations (default and namespaced)', async () => {
    const layouts = await knockOk(['layout', 'push', '--all', '--layouts-dir', 'layouts']);
    expect(layouts).toContain('Successfully pushed 1 layout(s) to `development` environment');
    const partials = await knockOk(['partial', 'push', '--all', '--partials-dir', 'partials']);
    expect(partials).toContain('Successfully pushed 1 partial(s) to `development` environment');
    const translations = await knockOk(['translation', 'push', '--all', '--translations-dir', 'translations']);
    expect(translations).toContain('Successfully pushed 2 translation(s) to `development` environment');
    expect(translations).toMatch(/^\s+en$/m);
    expect(translations).toMatch(/^\s+admin\.en$/m);

    const layout = (await mgmt('GET', '/email_layouts/default?environment=development')).json;
    expect(layout).toMatchObject({ key: 'default', name: 'Default', html_layout: LAYOUT_HTML, text_layout: LAYOUT_TEXT });
    const partial = (await mgmt('GET', '/partials/signature?environment=development')).json;
    expect(partial).toMatchObject({ key: 'signature', type: 'html', content: PARTIAL_HTML });
    const en = (await mgmt('GET', '/translations/en?environment=development')).json;
    expect(JSON.parse(en.content)).toEqual(EN);
    const admin = (await mgmt('GET', '/translations/en?environment=development&namespace=admin')).json;
    expect(admin).toMatchObject({ locale_code: 'en', namespace: 'admin' });
    expect(JSON.parse(admin.content)).toEqual(EN_ADMIN);
  }, TEST_TIMEOUT_MS);

  it('commits everything with a message', async () => {
    expect(await commitListJson()).toEqual([]);
    const stdout = await knockOk(['commit', '-m', 'Initial content', '--force']);
    expect(stdout).toContain('Successfully committed all changes in `development` environment');

    const commits = await commitListJson();
    expect(commits.map((c) => `${c.resource.type}:${c.resource.identifier}`).sort()).toEqual([
      'email_layout:default',
      'partial:signature',
      'translation:en',
      'translation:en/admin',
      'workflow:welcome',
    ]);
    for (const commit of commits) {
      expect(commit).toMatchObject({ commit_message: 'Initial content', environment: 'development', author: { email: expect.any(String) } });
      expect(Number.isNaN(Date.parse(commit.created_at))).toBe(false);
    }
    // Nothing is left uncommitted.
    const welcome = await shas('/workflows/welcome');
    expect(welcome.working).toBe(welcome.committed);
    // A second commit has nothing to commit.
    const again = await knock(['commit', '-m', 'Nothing', '--force']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('ApiError');
  }, TEST_TIMEOUT_MS);

  it('pushes and commits in one go with --commit -m', async () => {
    await writeFiles(project, {
      'workflows/digest/workflow.json': json(digestWorkflow),
      'workflows/digest/email_1/html_body.html': '<p>{{ data.count }} updates</p>\n',
    });
    const stdout = await knockOk(['workflow', 'push', '--all', '--workflows-dir', 'workflows', '--commit', '-m', 'Add the digest', '--force']);
    expect(stdout).toContain('Successfully pushed and committed 2 workflow(s) to `development` environment');
    expect(stdout).toMatch(/^\s+digest$/m);

    const digest = await shas('/workflows/digest');
    expect(digest.working).toBe(digest.committed);
    const [latest] = await commitListJson('--resource-type', 'workflow', '--resource-id', 'digest');
    expect(latest).toMatchObject({ resource: { type: 'workflow', identifier: 'digest' }, commit_message: 'Add the digest' });
    // The unchanged welcome workflow got no new commit.
    expect(await commitListJson('--resource-type', 'workflow', '--resource-id', 'welcome')).toHaveLength(1);
  }, TEST_TIMEOUT_MS);

  it('lists commits as a table, filtered by promotion state and environment', async () => {
    const all = await commitListJson();
    expect(all).toHaveLength(6);
    expect(all[0].resource.identifier).toBe('digest');

    const table = await knockOk(['commit', 'list']);
    expect(table).toContain('Showing 6 commits in `development` environment');
    expect(table).toMatch(/ID\s+Resource\s+Identifier\s+Author\s+Commit message\s+Created at/);
    for (const commit of all) expect(table).toContain(commit.id);
    const digestRow = table.split('\n').find((line) => line.includes(all[0].id))!;
    expect(digestRow).toMatch(/workflow\s+digest\s+.*owner@herald\.local.*\s+Add the digest\s+/);

    // Independent reads: run the CLI processes side by side.
    const [unpromoted, unpromotedJson, promoted, promotedJson, production, productionJson, workflows, typed, admin] = await Promise.all([
      knockOk(['commit', 'list', '--no-promoted']),
      commitListJson('--no-promoted'),
      knockOk(['commit', 'list', '--promoted']),
      commitListJson('--promoted'),
      knockOk(['commit', 'list', '--environment', 'production']),
      commitListJson('--environment', 'production'),
      commitListJson('--resource-type', 'workflow'),
      commitListJson('--resource-type', 'partial', '--resource-type', 'email_layout'),
      commitListJson('--resource-type', 'translation', '--resource-id', 'en/admin'),
    ]);
    expect(unpromoted).toContain('Showing 6 commits in `development` environment (showing only unpromoted)');
    expect(unpromotedJson.map((c) => c.id)).toEqual(all.map((c) => c.id));
    expect(promoted).toContain('Showing 0 commits in `development` environment (showing only promoted)');
    expect(promotedJson).toEqual([]);
    expect(production).toContain('Showing 0 commits in `production` environment');
    expect(productionJson).toEqual([]);
    expect(workflows.map((c) => c.resource.identifier)).toEqual(['digest', 'welcome']);
    expect(typed.map((c) => c.resource.type).sort()).toEqual(['email_layout', 'partial']);
    expect(admin.map((c) => c.resource.identifier)).toEqual(['en/admin']);

    const paged = await knockOk(['commit', 'list', '--json', '--limit', '2']);
    const page = JSON.parse(paged) as { entries: CliCommit[]; page_info: { after: string | null } };
    expect(page.entries.map((c) => c.id)).toEqual(all.slice(0, 2).map((c) => c.id));
    expect(page.page_info.after).toEqual(expect.any(String));
    const next = await commitListJson('--limit', '2', '--after', page.page_info.after!);
    expect(next.map((c) => c.id)).toEqual(all.slice(2, 4).map((c) => c.id));
  }, TEST_TIMEOUT_MS);

  it('gets one commit', async () => {
    const [digest] = await commitListJson('--resource-type', 'workflow', '--resource-id', 'digest');
    const stdout = await knockOk(['commit', 'get', digest.id]);
    expect(stdout).toContain(`Showing commit \`${digest.id}\` in \`development\` environment`);
    expect(stdout).toMatch(/Resource\s*\|?\s*workflow/);
    expect(stdout).toMatch(/Identifier\s*\|?\s*digest/);
    expect(stdout).toContain('owner@herald.local');
    expect(stdout).toContain('Add the digest');

    const asJson = JSON.parse(await knockOk(['commit', 'get', digest.id, '--json']));
    expect(asJson).toMatchObject({ id: digest.id, environment: 'development', resource: { type: 'workflow', identifier: 'digest' }, commit_message: 'Add the digest' });

    const missing = await knock(['commit', 'get', '00000000-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(2);
    // The CLI wraps long lines.
    expect(missing.stderr.replace(/\s+/g, ' ')).toMatch(/ApiError: Commit "0{8}-0{4}-4000-8000-0{12}" not found \(status: 404\) Code: resource_missing/);
  }, TEST_TIMEOUT_MS);

  it('promotes everything to production', async () => {
    const stdout = await knockOk(['commit', 'promote', '--to', 'production', '--force']);
    expect(stdout).toContain('Successfully promoted all changes to `production` environment');

    const production = await commitListJson('--environment', 'production');
    expect(production.map((c) => `${c.resource.type}:${c.resource.identifier}`).sort()).toEqual([
      'email_layout:default',
      'partial:signature',
      'translation:en',
      'translation:en/admin',
      'workflow:digest',
      'workflow:welcome',
    ]);
    expect(await commitListJson('--no-promoted')).toEqual([]);
    expect(await commitListJson('--promoted')).toHaveLength(6);
    const welcome = (await mgmt('GET', '/workflows/welcome?environment=production')).json;
    expect(welcome.steps[0].template.html_body).toBe(WELCOME_HTML);
  }, TEST_TIMEOUT_MS);

  it('promotes one commit to the next environment (staging), then on to production', async () => {
    const created = await mgmt('POST', '/environments', { name: 'Staging', slug: 'staging', insert_after: 'development' });
    expect(created.status).toBe(201);

    await writeFile(join(project, 'workflows/welcome/email_1/html_body.html'), '<p>Hi {{ recipient.name }}, welcome aboard!</p>\n');
    await knockOk(['workflow', 'push', 'welcome', '--commit', '-m', 'Warmer welcome'], join(project, 'workflows'));
    const [change] = await commitListJson('--no-promoted');
    expect(change).toMatchObject({ resource: { identifier: 'welcome' }, commit_message: 'Warmer welcome' });

    const stdout = await knockOk(['commit', 'promote', '--only', change.id, '--force']);
    expect(stdout).toContain(`Successfully promoted the commit \`${change.id}\` into \`staging\` environment`);
    const [inStaging] = await commitListJson('--environment', 'staging', '--resource-type', 'workflow', '--resource-id', 'welcome');
    expect(stdout).toMatch(new RegExp(`Commit id: ${inStaging.id}`));
    expect(await commitListJson('--no-promoted')).toEqual([]);
    expect((await mgmt('GET', '/workflows/welcome?environment=production')).json.steps[0].template.html_body).toBe(WELCOME_HTML);

    // Promoting the same commit again is refused.
    const again = await knock(['commit', 'promote', '--only', change.id, '--force']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('ApiError');

    await knockOk(['commit', 'promote', '--to', 'production', '--force']);
    expect((await mgmt('GET', '/workflows/welcome?environment=production')).json.steps[0].template.html_body).toBe('<p>Hi {{ recipient.name }}, welcome aboard!</p>\n');
  }, TEST_TIMEOUT_MS);

  it('pulls production into files that round-trip losslessly', async () => {
    const out = join(project, 'pulled');
    const pulls = [
      ['workflow', 'pull', '--all', '--environment', 'production', '--workflows-dir', 'pulled/workflows', '--force'],
      ['layout', 'pull', '--all', '--environment', 'production', '--layouts-dir', 'pulled/layouts', '--force'],
      ['partial', 'pull', '--all', '--environment', 'production', '--partials-dir', 'pulled/partials', '--force'],
      ['translation', 'pull', '--all', '--environment', 'production', '--translations-dir', 'pulled/translations', '--force'],
    ];
    for (const stdout of await Promise.all(pulls.map((args) => knockOk(args)))) {
      expect(stdout).toMatch(/Successfully (created|updated) the \w+ directory at .*pulled.* using `production` environment/);
    }
    const tree = await readTree(out);
    expect(Object.keys(tree).sort()).toEqual([
      'layouts/default/html_layout.html',
      'layouts/default/layout.json',
      'layouts/default/text_layout.txt',
      'partials/signature/content.html',
      'partials/signature/partial.json',
      'translations/en/admin.en.json',
      'translations/en/en.json',
      'workflows/digest/email_1/html_body.html',
      'workflows/digest/email_1/text_body.txt',
      'workflows/digest/workflow.json',
      'workflows/welcome/email_1/html_body.html',
      'workflows/welcome/in_app_feed_1/markdown_body.md',
      'workflows/welcome/in_app_feed_2/markdown_body.md',
      'workflows/welcome/workflow.json',
    ]);
    // Templates land in their files, unchanged.
    expect(tree['workflows/welcome/email_1/html_body.html']).toBe('<p>Hi {{ recipient.name }}, welcome aboard!</p>\n');
    expect(tree['workflows/welcome/in_app_feed_1/markdown_body.md']).toBe(WELCOME_FEED);
    expect(tree['workflows/welcome/in_app_feed_2/markdown_body.md']).toBe(VIP_FEED);
    expect(tree['workflows/digest/email_1/text_body.txt']).toBe('You have {{ data.count }} updates');
    expect(tree['layouts/default/html_layout.html']).toBe(LAYOUT_HTML);
    expect(tree['layouts/default/text_layout.txt']).toBe(LAYOUT_TEXT);
    expect(tree['partials/signature/content.html']).toBe(PARTIAL_HTML);
    expect(JSON.parse(tree['translations/en/en.json'])).toEqual(EN);
    expect(JSON.parse(tree['translations/en/admin.en.json'])).toEqual(EN_ADMIN);

    const welcome = JSON.parse(tree['workflows/welcome/workflow.json']);
    expect(welcome).toMatchObject({ name: 'Welcome', description: 'Sent when a user signs up', categories: ['onboarding'] });
    expect(welcome.steps.map((s: { ref: string }) => s.ref)).toEqual(['email_1', 'delay_1', 'branch_1', 'in_app_feed_1']);
    expect(welcome.steps[0].template).toMatchObject({ subject: 'Hello {{ recipient.name }}', 'html_body@': 'email_1/html_body.html', settings: { layout_key: 'default' } });
    expect(welcome.steps[0].template.html_body).toBeUndefined();
    expect(welcome.steps[1]).toMatchObject({ type: 'delay', settings: { delay_for: { unit: 'minutes', value: 5 } } });
    expect(welcome.steps[2].branches[0].steps[0].template).toMatchObject({ 'markdown_body@': 'in_app_feed_2/markdown_body.md' });
    expect(welcome.__readonly).toMatchObject({ key: 'welcome', active: true, valid: true });
    const layout = JSON.parse(tree['layouts/default/layout.json']);
    expect(layout).toMatchObject({ name: 'Default', 'html_layout@': 'html_layout.html', 'text_layout@': 'text_layout.txt' });
    const partial = JSON.parse(tree['partials/signature/partial.json']);
    expect(partial).toMatchObject({ name: 'Signature', 'content@': 'content.html', __readonly: { type: 'html' } });
  }, TEST_TIMEOUT_MS);

  it('pushes the pulled files back to development without creating a change', async () => {
    const before = {
      welcome: await shas('/workflows/welcome'),
      digest: await shas('/workflows/digest'),
      layout: await shas('/email_layouts/default'),
      partial: await shas('/partials/signature'),
    };
    for (const value of Object.values(before)) expect(value.working).toBe(value.committed);

    // One CLI at a time: four at once on a loaded 2-core machine can run past the CLI timeout.
    const pushed: string[] = [];
    for (const args of [
      ['workflow', 'push', '--all', '--workflows-dir', 'pulled/workflows', '--force'],
      ['layout', 'push', '--all', '--layouts-dir', 'pulled/layouts'],
      ['partial', 'push', '--all', '--partials-dir', 'pulled/partials'],
      ['translation', 'push', '--all', '--translations-dir', 'pulled/translations'],
    ]) {
      pushed.push(await knockOk(args));
    }
    expect(pushed[0]).toContain('Successfully pushed 2 workflow(s) to `development` environment');
    expect(pushed[3]).toContain('Successfully pushed 2 translation(s) to `development` environment');

    const after = {
      welcome: await shas('/workflows/welcome'),
      digest: await shas('/workflows/digest'),
      layout: await shas('/email_layouts/default'),
      partial: await shas('/partials/signature'),
    };
    expect(after).toEqual(before);
    for (const path of ['/translations/en', '/translations/en?namespace=admin']) {
      const translation = await shas(path);
      expect(translation.working).toBe(translation.committed);
    }
    // No working copy anywhere in development, and so nothing to commit.
    const development = await herald.db.selectFrom('environments').select('id').where('slug', '=', 'development').executeTakeFirstOrThrow();
    const working = await herald.db
      .selectFrom('environment_resources')
      .select(['resource_type', 'resource_key'])
      .where('environment_id', '=', development.id)
      .where('working_content', 'is not', null)
      .execute();
    expect(working).toEqual([]);
    const commit = await knock(['commit', '-m', 'Round trip', '--force']);
    expect(commit.code).toBe(2);
    expect(commit.stderr).toContain('ApiError: There are no changes to commit');
  }, TEST_TIMEOUT_MS);

  it('refuses an invalid workflow, naming the field, and saves nothing', async () => {
    const broken = structuredClone(digestWorkflow);
    broken.steps[0].template.subject = 'Your {{ data.count digest';
    await writeFiles(project, {
      'broken/digest/workflow.json': json(broken),
      'broken/digest/email_1/html_body.html': '<p>fine</p>\n',
    });
    const before = await shas('/workflows/digest');
    const result = await knock(['workflow', 'push', '--all', '--workflows-dir', 'broken', '--force']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ApiError');
    expect(result.stderr).toMatch(/JsonDataError: data at "workflow\.steps\.0\.template\.subject"/);
    expect(await shas('/workflows/digest')).toEqual(before);
  }, TEST_TIMEOUT_MS);

  it('refuses to push a workflow straight into production', async () => {
    const result = await knock(['workflow', 'push', 'welcome', '--environment', 'production', '--force'], join(project, 'workflows'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/ApiError: .*development/);
    const production = await commitListJson('--environment', 'production', '--resource-type', 'workflow', '--resource-id', 'welcome');
    expect(production).toHaveLength(2);
  }, TEST_TIMEOUT_MS);

  it('pulls a single workflow and a single namespaced translation, with and without uncommitted changes', async () => {
    const edited = structuredClone(welcomeWorkflow) as Record<string, any>;
    const local = JSON.parse(await readFile(join(project, 'workflows/welcome/workflow.json'), 'utf8'));
    edited.steps = local.steps;
    edited.name = 'Welcome (draft)';
    edited.steps[0].template.html_body = '<p>Draft</p>';
    const draft = await mgmt('PUT', '/workflows/welcome?environment=development', { workflow: edited });
    expect(draft.status, JSON.stringify(draft.json)).toBe(200);

    const [working, committed] = [join(project, 'single-working'), join(project, 'single-committed')];
    await mkdir(working);
    await mkdir(committed);
    const [workingOut, committedOut, translationOut] = await Promise.all([
      knockOk(['workflow', 'pull', 'welcome', '--force'], working),
      knockOk(['workflow', 'pull', 'welcome', '--hide-uncommitted-changes', '--force'], committed),
      knockOk(['translation', 'pull', 'admin.en', '--environment', 'production', '--force'], committed),
    ]);
    expect(workingOut).toMatch(/Successfully created `welcome` at .*single-working\/welcome using `development` environment/);
    expect(committedOut).toContain('`welcome`');
    expect(translationOut).toContain('`admin.en`');

    const workingTree = await readTree(join(working, 'welcome'));
    expect(JSON.parse(workingTree['workflow.json']).name).toBe('Welcome (draft)');
    expect(workingTree['email_1/html_body.html']).toBe('<p>Draft</p>');
    const committedTree = await readTree(join(committed, 'welcome'));
    expect(JSON.parse(committedTree['workflow.json']).name).toBe('Welcome');
    expect(committedTree['email_1/html_body.html']).toBe('<p>Hi {{ recipient.name }}, welcome aboard!</p>\n');
    expect(JSON.parse(await readFile(join(committed, 'en/admin.en.json'), 'utf8'))).toEqual(EN_ADMIN);
  }, TEST_TIMEOUT_MS);
});
