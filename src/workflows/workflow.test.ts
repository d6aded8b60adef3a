import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FieldError } from '../errors.ts';
import type { ResourceMeta } from '../versioning/resource-kind.ts';
import { workflowKind } from './workflow.ts';

const meta: ResourceMeta = {
  key: 'december-16-demo',
  environment: 'development',
  active: true,
  created_at: '2022-12-16T19:07:50.027Z',
  updated_at: '2023-02-08T22:15:19.846Z',
  sha: 'sha-workflow-test',
};

/** Content as stored: what the versioning layer validates. */
const problems = (input: Record<string, unknown>): FieldError[] => workflowKind.validate(workflowKind.normalize(input));
const fields = (input: Record<string, unknown>): string[] => problems(input).map((e) => e.field);

const email = (ref: string, template: Record<string, unknown> = {}) => ({
  ref,
  type: 'channel',
  channel_key: 'postmark',
  channel_type: 'email',
  template: { subject: 'Welcome to {{ vars.app_name }}!', html_body: '<p>Hello, {{ recipient.name }}!</p>', settings: { layout_key: 'default' }, ...template },
});
const delay = (ref: string) => ({ ref, type: 'delay', settings: { delay_for: { unit: 'hours', value: 1 } } });
const workflow = (steps: unknown[], extra: Record<string, unknown> = {}) => ({ name: 'Test', steps, ...extra });

/** The spec's `Workflow` example, read-only fields included, as the Knock CLI sends it back. */
const specWorkflowExample = {
  active: false,
  categories: ['marketing', 'black-friday'],
  conditions: { all: [{ argument: 'admin', operator: 'equal_to', variable: 'recipient.role' }] },
  created_at: '2022-12-16T19:07:50.027113Z',
  description: 'This is a dummy workflow for demo purposes.',
  environment: 'development',
  key: 'december-16-demo',
  name: 'december-16-demo',
  settings: { override_preferences: true },
  sha: 'f7e9d3b2a1c8e6m4k5j7h9g0i2l3n4p6q8r0t1u3v5w7x9y',
  steps: [
    {
      channel_key: 'in-app-feed',
      channel_type: 'in_app_feed',
      description: 'Main in-app feed',
      name: 'In-app step',
      ref: 'in_app_feed_1',
      template: { action_url: '{{ data.onboarding_url }}', markdown_body: 'Hello **{{ recipient.name }}**. Click here to get started.' },
      type: 'channel',
    },
    { ref: 'delay_1', settings: { delay_for: { unit: 'hours', value: 1 } }, type: 'delay' },
    {
      channel_key: 'postmark',
      channel_type: 'email',
      ref: 'email_1',
      template: {
        html_body: "<p>Hello, {{ recipient.name }}! Welcome to {{ vars.app_name }} <a href='{{ data.onboarding_url }}'>Get started here</a>.</p>",
        settings: { layout_key: 'default' },
        subject: 'Welcome to {{ vars.app_name }}!',
      },
      type: 'channel',
    },
  ],
  tags: ['onboarding', 'growth'],
  trigger_data_json_schema: { properties: { onboarding_url: { type: 'string' } }, required: ['onboarding_url'], type: 'object' },
  trigger_frequency: 'every_trigger',
  updated_at: '2023-02-08T22:15:19.846681Z',
  valid: true,
};

/** A workflow.json as `knock workflow push` sends it: extracted-file markers beside inlined content, no channel_type. */
const cliPush = {
  key: 'cli-workflow',
  name: 'CLI workflow',
  __annotation: { readonly_fields: ['key', 'environment'] },
  steps: [
    { ref: 'delay_1', type: 'delay', settings: { delay_for: { unit: 'seconds', value: 30 } } },
    { ref: 'batch_1', type: 'batch', settings: { batch_order: 'asc', batch_window_type: 'sliding', batch_window: { unit: 'seconds', value: 30 } } },
    { ref: 'http_fetch_1', type: 'http_fetch', settings: { method: 'get', url: 'https://example.com' } },
    {
      ref: 'email_1',
      type: 'channel',
      channel_key: 'postmark',
      template: { settings: { layout_key: 'default' }, subject: "You've got mail!", 'html_body@': 'email_1/html_body.html', html_body: '<p>Hello, <strong>{{ recipient.name }}</strong>!</p>' },
    },
    { ref: 'in_app_feed_1', type: 'channel', channel_key: 'in-app-feed', template: { action_url: '{{ vars.app_url }}', 'markdown_body@': 'in_app_feed_1/markdown_body.md', markdown_body: 'Hello, **{{ recipient.name }}**!' } },
    { ref: 'sms_1', type: 'channel', channel_key: 'twilio', template: { 'text_body@': 'sms_1/text_body.txt', text_body: 'Hello, {{ recipient.name }}!' } },
    { ref: 'push_1', type: 'channel', channel_key: 'apns', template: { settings: { delivery_type: 'content' }, 'text_body@': 'push_1/text_body.txt', text_body: 'Hello, {{ recipient.name }}!' } },
    { ref: 'chat_1', type: 'channel', channel_key: 'slack', template: { 'markdown_body@': 'chat_1/markdown_body.md', markdown_body: 'Hello, **{{ recipient.name }}**!' } },
  ],
};

/** One step of every type in the spec, each valid. */
const everyStepType = workflow([
  email('email_1', { text_body: 'Hello {{ recipient.name }}', is_mjml: false }),
  {
    ref: 'email_visual',
    type: 'channel',
    channel_key: 'postmark',
    channel_type: 'email',
    channel_overrides: { from_address: '{{ vars.support_email }}', link_tracking: true },
    send_windows: [{ day: 'monday', type: 'send', from: '09:00', until: '17:00' }],
    template: {
      subject: 'Visual',
      visual_blocks: [
        { type: 'markdown', content: '# Hi {{ recipient.name }}', layout_attrs: { padding_top: 8, padding_bottom: 8, padding_left: 8, padding_right: 8 } },
        { type: 'button_set', buttons: [{ label: 'Open', action: '{{ data.url }}', variant: 'solid' }] },
        { type: 'image', url: 'https://example.com/logo.png' },
        { type: 'divider' },
        { type: 'html', content: '<b>{{ data.x }}</b>' },
        { type: 'partial', key: 'footer', name: 'Footer', attrs: { text: '{{ vars.company }}' } },
      ],
    },
  },
  {
    ref: 'in_app_feed_1',
    type: 'channel',
    channel_key: 'in-app-feed',
    channel_type: 'in_app_feed',
    template: { markdown_body: 'Hi', action_buttons: [{ label: 'Accept', action: '{{ data.accept_url }}' }] },
  },
  { ref: 'sms_1', type: 'channel', channel_key: 'twilio', channel_type: 'sms', template: { text_body: 'Hi {{ recipient.name }}', settings: { to_number: '{{ data.phone }}' } } },
  { ref: 'push_1', type: 'channel', channel_key: 'apns', channel_type: 'push', template: { title: 'Hi', text_body: 'There', settings: { delivery_type: 'content' } } },
  { ref: 'chat_1', type: 'channel', channel_key: 'slack', channel_type: 'chat', template: { markdown_body: '*Hi*', json_body: '{"blocks": {{ data.blocks | json }}}', summary: 'Hi' } },
  {
    ref: 'webhook_1',
    type: 'channel',
    channel_key: 'webhook',
    channel_type: 'http',
    template: { method: 'post', url: 'https://example.com/hook', headers: [{ key: 'X-Token', value: '{{ vars.token }}' }], body: '{"id": "{{ recipient.id }}"}' },
  },
  { ref: 'guide_1', type: 'channel', channel_key: 'in-app-guide', channel_type: 'in_app_guide', guide_key: 'onboarding' },
  { ref: 'group_1', type: 'channel', channel_group_key: 'push-group', channel_type: 'push', template: { text_body: 'Hi' } },
  delay('delay_1'),
  { ref: 'delay_2', type: 'delay', settings: { delay_until_field_path: 'data.remind_at' } },
  {
    ref: 'batch_1',
    type: 'batch',
    settings: {
      batch_key: 'data.project_id',
      batch_window: { unit: 'minutes', value: 5 },
      batch_window_type: 'sliding',
      batch_window_extension_limit: { unit: 'hours', value: 1 },
      batch_order: 'desc',
      batch_items_max_limit: 100,
      batch_execution_mode: 'flush_leading',
    },
  },
  { ref: 'throttle_1', type: 'throttle', settings: { throttle_window: { unit: 'hours', value: 1 }, throttle_limit: 1, throttle_key: 'data.alert_id' } },
  {
    ref: 'fetch_1',
    type: 'http_fetch',
    settings: { method: 'post', url: 'https://api.example.com/users/{{ recipient.id }}', headers: '{"Authorization": "Bearer {{ vars.secret }}"}', query_params: [{ key: 'q', value: '{{ data.q }}' }], body: '{}' },
  },
  { ref: 'trigger_1', type: 'trigger_workflow', settings: { workflow_key: 'nested', recipients: '{{ recipient.id | json }}', data: '{{ data | json }}' } },
  { ref: 'ai_1', type: 'ai_agent', settings: { model: 'gpt-4o', request_prompt: 'Summarise {{ data.text }}', response_type: 'json', response_schema: '{"type":"object"}' } },
  {
    ref: 'wait_1',
    type: 'wait_for_event',
    settings: {
      event: { event_type: 'message', event_key: 'read', source_key: 'email_1', source_type: 'workflow' },
      match_conditions: [{ operator: 'and', conditions: [{ variable: 'message.id', operator: 'exists' }] }],
      expires_after: { unit: 'days', value: 2 },
      on_match: 'halt',
      on_timeout: 'continue',
    },
  },
  { ref: 'update_data_1', type: 'update_data', settings: { data: '{"count": {{ data.count | plus: 1 }}}' } },
  { ref: 'update_object_1', type: 'update_object', settings: { recipient_gid: '{{ data.project_gid }}', update_properties: '{"seen": true}' } },
  { ref: 'update_tenant_1', type: 'update_tenant', settings: { recipient_mode: 'current', update_properties: '{"plan": "pro"}' } },
  { ref: 'update_user_1', type: 'update_user', settings: { recipient_mode: 'reference', recipient_gid: '{{ actor.id }}', update_properties: '{}' } },
  {
    ref: 'branch_1',
    type: 'branch',
    branches: [
      {
        name: 'Pro',
        conditions: { all: [{ variable: 'recipient.plan', operator: 'equal_to', argument: 'pro' }] },
        steps: [email('email_pro'), { ref: 'nested_branch', type: 'branch', branches: [{ name: 'Default', steps: [delay('delay_nested')] }] }],
        terminates: true,
      },
      { name: 'Default', conditions: null, steps: [] },
    ],
  },
  {
    ref: 'experiment_1',
    type: 'random_cohort',
    cohort_key: '{{ recipient.id }}',
    cohort_branches: [
      { name: 'Control', percentage: 33.3, steps: [email('email_control')] },
      { name: 'Variant', percentage: '66.7', steps: [] },
    ],
  },
]);

describe('workflowKind.validate: valid workflows have no problems', () => {
  it('accepts the spec Workflow example, read-only fields and all', () => {
    expect(problems(specWorkflowExample)).toEqual([]);
  });

  it('accepts the spec WorkflowRequest and WorkflowStep examples', () => {
    const request = {
      name: 'My Workflow',
      steps: [{ channel_key: 'in-app-feed', name: 'Channel 1', ref: 'channel_1', template: { action_url: '{{ vars.app_url }}', markdown_body: 'Hello **{{ recipient.name }}**' }, type: 'channel' }],
    };
    const step = {
      channel_group_key: null,
      channel_key: 'postmark',
      channel_overrides: null,
      channel_type: 'email',
      conditions: null,
      description: 'This is a description of the channel step',
      name: 'Email channel step',
      ref: 'channel_step',
      send_windows: null,
      template: {
        html_body: "<p>Hello, {{ recipient.name }}! Welcome to {{ vars.app_name }} <a href='{{ data.sign_in_url }}'>Get started here</a>.</p>",
        settings: { layout_key: 'default' },
        subject: 'Welcome to {{ vars.app_name }}',
        text_body: 'Hello, {{ recipient.name }}! Welcome to {{ vars.app_name }} Get started here: {{ data.sign_in_url }}.',
      },
      type: 'channel',
    };
    expect(problems(request)).toEqual([]);
    expect(problems(workflow([step]))).toEqual([]);
  });

  it('accepts a workflow as the Knock CLI pushes it (file markers, no channel_type, seconds, push without title)', () => {
    expect(problems(cliPush)).toEqual([]);
  });

  it('accepts one step of every type in the spec', () => {
    expect(problems(everyStepType)).toEqual([]);
  });

  it('accepts an empty workflow (a new one has no steps yet)', () => {
    expect(problems({ name: 'New', steps: [] })).toEqual([]);
  });

  it("accepts the conditions docs' examples: any of all-groups, message status conditions", () => {
    const conditions = {
      any: [
        {
          all: [
            { argument: 'true', operator: 'equal_to', variable: 'recipient.is_active' },
            { argument: 'true', operator: 'equal_to', variable: 'actor.is_active' },
          ],
        },
        { all: [{ argument: 'true', operator: 'equal_to', variable: 'data.force_delivery' }] },
      ],
    };
    const seen = { all: [{ variable: 'refs.in_app_feed_1.engagement_status', operator: 'not_contains', argument: '$message.seen' }] };
    expect(problems(workflow([delay('delay_1'), { ...email('email_1'), conditions: seen }], { conditions }))).toEqual([]);
  });

  it("accepts Knock's Liquid filters and tags (format_date, t, currency, json, render, {% t %})", () => {
    const body = [
      '{{ data.at | format_date: "%b %d" }} {{ timestamp | timezone: "America/New_York" }}',
      '{{ 10 | currency: "GBP", "en" }} {{ 10.99 | rounded_currency: "GBP", "en" }} {{ total | pluralize: "user", "users" }}',
      '{{ recipient | json }} {{ recipient.id | sha256 }} {{ recipient.id | hmac_sha256: "k" }} {{ "like" | t: actorName: actor.name }}',
      '{% assign user = "chris" | user %}{% render "partial_key", name: data.name %}{% t %}Hi {{ recipient.name }}{% endt %}',
      '{% raw %}{{ not liquid }}{% endraw %}{% partial "footer" %}',
    ].join('\n');
    expect(problems(workflow([email('email_1', { html_body: body })]))).toEqual([]);
  });

  it('accepts the trigger data schema of the validating-trigger-data docs, and 2020-12 schemas', () => {
    const schema = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] };
    expect(problems(workflow([], { trigger_data_json_schema: schema }))).toEqual([]);
    const modern = { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', $defs: { id: { type: 'string' } }, properties: { id: { $ref: '#/$defs/id' } } };
    expect(problems(workflow([], { trigger_data_json_schema: modern }))).toEqual([]);
  });
});

describe('workflowKind.validate: each problem is reported at its path', () => {
  it('reports an unknown step type', () => {
    const [error] = problems(workflow([delay('delay_1'), { ref: 'x', type: 'teleport' }]));
    expect(error).toMatchObject({ field: 'steps.1.type', type: 'enum' });
    expect(error.message).toContain('"teleport"');
  });

  it('reports missing required fields of the workflow and of each step type', () => {
    expect(fields({ steps: [] })).toEqual(['name']);
    expect(fields({ name: 'x' })).toEqual(['steps']);
    expect(fields(workflow([{ type: 'delay', settings: { delay_for: { unit: 'hours', value: 1 } } }]))).toEqual(['steps.0.ref']);
    expect(fields(workflow([{ ref: 'a' }]))).toEqual(['steps.0.type']);
    expect(fields(workflow([{ ref: 'a', type: 'channel', channel_key: 'postmark' }]))).toEqual(['steps.0.template']);
    expect(fields(workflow([{ ref: 'a', type: 'channel', template: { markdown_body: 'x' } }]))).toEqual(['steps.0.channel_key']);
    expect(fields(workflow([{ ref: 'a', type: 'channel', channel_key: 'p', channel_type: 'email', template: { html_body: 'x' } }]))).toEqual(['steps.0.template.subject']);
    expect(fields(workflow([{ ref: 'a', type: 'channel', channel_key: 'p', channel_type: 'email', template: { subject: 'x' } }]))).toEqual(['steps.0.template.html_body']);
    expect(fields(workflow([{ ref: 'a', type: 'channel', channel_key: 'p', channel_type: 'in_app_feed', template: {} }]))).toEqual(['steps.0.template.markdown_body']);
    expect(fields(workflow([{ ref: 'a', type: 'channel', channel_key: 'p', channel_type: 'sms', template: {} }]))).toEqual(['steps.0.template.text_body']);
    expect(fields(workflow([{ ref: 'a', type: 'channel', channel_key: 'p', channel_type: 'http', template: {} }]))).toEqual(['steps.0.template.method', 'steps.0.template.url']);
    expect(fields(workflow([{ ref: 'a', type: 'delay' }]))).toEqual(['steps.0.settings']);
    expect(fields(workflow([{ ref: 'a', type: 'delay', settings: {} }]))).toEqual(['steps.0.settings.delay_for']);
    expect(fields(workflow([{ ref: 'a', type: 'batch', settings: {} }]))).toEqual(['steps.0.settings.batch_window']);
    expect(fields(workflow([{ ref: 'a', type: 'throttle', settings: {} }]))).toEqual(['steps.0.settings.throttle_window']);
    expect(fields(workflow([{ ref: 'a', type: 'http_fetch', settings: {} }]))).toEqual(['steps.0.settings.method', 'steps.0.settings.url']);
    expect(fields(workflow([{ ref: 'a', type: 'trigger_workflow', settings: {} }]))).toEqual(['steps.0.settings.workflow_key']);
    expect(fields(workflow([{ ref: 'a', type: 'branch' }]))).toEqual(['steps.0.branches']);
    expect(fields(workflow([{ ref: 'a', type: 'update_user', settings: { recipient_mode: 'reference', update_properties: '{}' } }]))).toEqual([
      'steps.0.settings.recipient_gid',
    ]);
    expect(fields(workflow([{ ref: 'a', type: 'wait_for_event', settings: { event: { event_type: 'workflow', event_key: 'completed', source_key: 'w' } } }]))).toEqual([
      'steps.0.settings.match_conditions',
    ]);
    expect(problems({ steps: [] })[0]).toEqual({ field: 'name', message: 'is required', type: 'required' });
  });

  it('reports wrong types and out-of-range settings', () => {
    const steps = [
      { ref: 'a', type: 'delay', settings: { delay_for: { unit: 'fortnights', value: 0 } } },
      { ref: 'b', type: 'batch', settings: { batch_window: { unit: 'minutes', value: 1 }, batch_items_max_limit: 5000, batch_order: 'sideways' } },
    ];
    expect(problems(workflow(steps, { categories: 'urgent' }))).toEqual([
      { field: 'steps.0.settings.delay_for.unit', message: 'must be one of: seconds, minutes, hours, days, weeks, months (got "fortnights")', type: 'enum' },
      { field: 'steps.0.settings.delay_for.value', message: 'must be at least 1', type: 'range' },
      { field: 'steps.1.settings.batch_order', message: 'must be one of: asc, desc (got "sideways")', type: 'enum' },
      { field: 'steps.1.settings.batch_items_max_limit', message: 'must be between 2 and 1000', type: 'range' },
      { field: 'categories', message: 'must be an array', type: 'type' },
    ]);
  });

  it('reports duplicate refs anywhere in the tree, branches included', () => {
    const steps = [
      email('email_1'),
      {
        ref: 'branch_1',
        type: 'branch',
        branches: [
          { conditions: { all: [{ variable: 'data.x', operator: 'exists' }] }, steps: [email('email_1')] },
          { steps: [delay('branch_1')] },
        ],
      },
    ];
    expect(problems(workflow(steps))).toEqual([
      {
        field: 'steps.1.branches.0.steps.0.ref',
        message: 'duplicates the ref "email_1" of steps.0; refs must be unique within the workflow',
        type: 'duplicate',
      },
      {
        field: 'steps.1.branches.1.steps.0.ref',
        message: 'duplicates the ref "branch_1" of steps.1; refs must be unique within the workflow',
        type: 'duplicate',
      },
    ]);
  });

  it('reports Liquid syntax errors in every template field, with the liquidjs message', () => {
    const steps = [
      email('email_1', { subject: 'Hi {{ recipient.name ', text_body: '{% if data.x %}unclosed' }),
      {
        ref: 'visual',
        type: 'channel',
        channel_key: 'p',
        channel_type: 'email',
        channel_overrides: { from_address: '{{ vars.from }}{% endif %}' },
        template: { subject: 's', visual_blocks: [{ type: 'markdown', content: '{% for x in %}{% endfor %}' }] },
      },
      { ref: 'feed', type: 'channel', channel_key: 'f', template: { markdown_body: 'ok', action_buttons: [{ label: 'Go', action: '{{ data.url' }] } },
      { ref: 'fetch', type: 'http_fetch', settings: { method: 'get', url: 'https://x/{% bogus %}', headers: [{ key: 'a', value: '{{' }] } },
      {
        ref: 'branch',
        type: 'branch',
        branches: [{ steps: [{ ref: 'sms', type: 'channel', channel_key: 's', channel_type: 'sms', template: { text_body: '{{ a | }' } }] }],
      },
    ];
    const errors = problems(workflow(steps));
    expect(errors.map((e) => e.field)).toEqual([
      'steps.0.template.subject',
      'steps.0.template.text_body',
      'steps.1.channel_overrides.from_address',
      'steps.1.template.visual_blocks.0.content',
      'steps.2.template.action_buttons.0.action',
      'steps.3.settings.headers.0.value',
      'steps.3.settings.url',
      'steps.4.branches.0.steps.0.template.text_body',
    ]);
    expect(errors.every((e) => e.type === 'liquid_syntax' && e.message.startsWith('has a Liquid syntax error: '))).toBe(true);
    expect(errors[0].message).toBe('has a Liquid syntax error: output "{{ recipient.name " not closed, line:1, col:4');
    expect(errors[1].message).toContain('tag {% if data.x %} not closed');
    expect(errors[6].message).toContain('tag "bogus" not found');
  });

  it('reports an invalid trigger_data_json_schema by its path inside the schema', () => {
    expect(problems(workflow([], { trigger_data_json_schema: { type: 'object', properties: { name: { type: 'text' } } } }))).toEqual([
      {
        field: 'trigger_data_json_schema.properties.name.type',
        message: 'is not a valid JSON Schema: must be equal to one of the allowed values',
        type: 'json_schema',
      },
    ]);
    expect(problems(workflow([], { trigger_data_json_schema: { properties: { a: { $ref: '#/definitions/nope' } } } }))[0]).toMatchObject({
      field: 'trigger_data_json_schema',
      type: 'json_schema',
    });
    expect(fields(workflow([], { trigger_data_json_schema: { $schema: 'http://json-schema.org/draft-04/schema#' } }))).toEqual([
      'trigger_data_json_schema.$schema',
    ]);
    expect(fields(workflow([], { trigger_data_json_schema: ['not', 'an', 'object'] }))).toEqual(['trigger_data_json_schema']);
  });

  it('reports condition operators outside the spec list, wherever conditions are', () => {
    const bad = (operator: string) => ({ all: [{ variable: 'recipient.plan', operator, argument: 'pro' }] });
    const steps = [
      { ...email('email_1'), conditions: { any: [{ all: [{ variable: 'data.x', operator: 'is_roughly', argument: '1' }] }] } },
      {
        ref: 'branch_1',
        type: 'branch',
        branches: [{ conditions: bad('matches'), steps: [] }, { steps: [] }],
      },
    ];
    const errors = problems(workflow(steps, { conditions: bad('equals') }));
    expect(errors.map((e) => [e.field, e.type])).toEqual([
      ['steps.0.conditions.any.0.all.0.operator', 'enum'],
      ['steps.1.branches.0.conditions.all.0.operator', 'enum'],
      ['conditions.all.0.operator', 'enum'],
    ]);
    expect(errors[2].message).toMatch(/^must be one of: equal_to, not_equal_to, .* \(got "equals"\)$/);
  });

  it('reports malformed condition groups and missing arguments', () => {
    const conditions = { all: [{ variable: 'data.x', operator: 'equal_to' }, { variable: 'data.y', operator: 'exists' }, 'x'] };
    expect(problems(workflow([], { conditions }))).toEqual([
      { field: 'conditions.all.0.argument', message: 'is required with the operator equal_to', type: 'required' },
      { field: 'conditions.all.2', message: 'must be a condition object with variable, operator and argument', type: 'type' },
    ]);
    expect(fields(workflow([], { conditions: { all: [], any: [] } }))).toEqual(['conditions']);
    expect(fields(workflow([], { conditions: { every: [] } }))).toEqual(['conditions', 'conditions.every']);
  });

  it('reports an invalid trigger_frequency', () => {
    expect(problems(workflow([], { trigger_frequency: 'once_per_day' }))).toEqual([
      {
        field: 'trigger_frequency',
        message: 'must be one of: every_trigger, once_per_recipient, once_per_recipient_per_tenant (got "once_per_day")',
        type: 'enum',
      },
    ]);
  });

  it('enforces the branch function rules: default branch last, conditions on the others, no step conditions, depth and count limits', () => {
    const cond = { all: [{ variable: 'data.x', operator: 'exists' }] };
    expect(fields(workflow([{ ref: 'b', type: 'branch', branches: [{ steps: [] }, { steps: [] }] }]))).toEqual(['steps.0.branches.0.conditions']);
    expect(fields(workflow([{ ref: 'b', type: 'branch', branches: [{ conditions: cond, steps: [] }] }]))).toEqual(['steps.0.branches.0.conditions']);
    expect(fields(workflow([{ ref: 'b', type: 'branch', conditions: cond, branches: [{ steps: [] }] }]))).toEqual(['steps.0.conditions']);
    expect(fields(workflow([{ ref: 'b', type: 'branch', branches: Array.from({ length: 11 }, (_, i) => (i < 10 ? { conditions: cond } : {})) }]))).toEqual([
      'steps.0.branches',
    ]);
    let nested: Record<string, unknown> = delay('innermost');
    for (let depth = 6; depth >= 1; depth--) nested = { ref: `branch_${depth}`, type: 'branch', branches: [{ steps: [nested] }] };
    expect(problems(workflow([nested]))).toEqual([
      { field: 'steps.0.branches.0.steps.0.branches.0.steps.0.branches.0.steps.0.branches.0.steps.0.branches.0.steps.0', message: 'nests branches deeper than 5 levels', type: 'max_depth' },
    ]);
  });

  it('requires experiment cohorts to add up to 100', () => {
    const cohorts = [
      { name: 'A', percentage: 50, steps: [] },
      { name: 'B', percentage: '40', steps: [] },
    ];
    expect(problems(workflow([{ ref: 'e', type: 'random_cohort', cohort_branches: cohorts }]))).toEqual([
      { field: 'steps.0.cohort_branches', message: 'percentages must add up to 100 (they add up to 90)', type: 'invalid' },
    ]);
    expect(fields(workflow([{ ref: 'e', type: 'random_cohort', cohort_branches: [{ percentage: 33.33 }, { percentage: 66.67 }] }]))).toEqual([
      'steps.0.cohort_branches.0.percentage',
      'steps.0.cohort_branches.1.percentage',
    ]);
  });

  it('reports every problem at once', () => {
    const steps = [{ type: 'teleport' }, email('e', { subject: '{{' }), { ref: 'e', type: 'delay', settings: {} }];
    expect(fields(workflow(steps, { name: '', trigger_frequency: 'sometimes' }))).toEqual([
      'name',
      'steps.0.ref',
      'steps.0.type',
      'steps.1.template.subject',
      'steps.2.ref',
      'steps.2.settings.delay_for',
      'trigger_frequency',
    ]);
  });

  it('never throws, whatever the content', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('name', 'steps', 'conditions', 'settings', 'trigger_data_json_schema', 'categories'), fc.jsonValue()), (input) => {
        const errors = problems(input);
        expect(Array.isArray(errors)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

/** The same JSON with every object's keys in reverse order. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversedKeys(v)]));
}

describe('workflowKind.normalize', () => {
  it('drops read-only fields and the CLI bookkeeping, keeping only request fields', () => {
    const content = workflowKind.normalize({ ...specWorkflowExample, __readonly: { key: 'x' }, $schema: 'https://schemas.knock.app/workflow.json', bogus: 1 });
    expect(Object.keys(content).sort()).toEqual([
      'categories',
      'conditions',
      'description',
      'name',
      'settings',
      'steps',
      'tags',
      'trigger_data_json_schema',
      'trigger_frequency',
    ]);
    const cli = workflowKind.normalize(cliPush);
    expect(JSON.stringify(cli)).not.toMatch(/@"|__annotation|cli-workflow/);
    expect((cli.steps as Array<{ template?: Record<string, unknown> }>)[3].template).toEqual({
      html_body: '<p>Hello, <strong>{{ recipient.name }}</strong>!</p>',
      settings: { layout_key: 'default' },
      subject: "You've got mail!",
    });
  });

  it('fills defaults and drops nulls, so equivalent requests store the same content', () => {
    const minimal = workflowKind.normalize({ name: 'x', steps: [delay('d')] });
    expect(minimal).toEqual({
      categories: [],
      name: 'x',
      settings: { is_commercial: false, override_preferences: false },
      steps: [delay('d')],
      tags: [],
      trigger_frequency: 'every_trigger',
    });
    const explicit = workflowKind.normalize({
      name: 'x',
      steps: [{ ...delay('d'), conditions: null, name: null }],
      categories: [],
      conditions: null,
      description: null,
      settings: { is_commercial: false },
      tags: [],
      trigger_data_json_schema: {},
      trigger_frequency: 'every_trigger',
    });
    expect(JSON.stringify(explicit)).toBe(JSON.stringify(minimal));
  });

  it('is stable: same input in any key order gives the same (and same serialised) content, and is idempotent', () => {
    for (const input of [specWorkflowExample, cliPush, everyStepType]) {
      const a = workflowKind.normalize(input);
      const b = workflowKind.normalize(reversedKeys(input) as Record<string, unknown>);
      expect(b).toEqual(a);
      expect(JSON.stringify(b)).toBe(JSON.stringify(a));
      expect(workflowKind.normalize(a)).toEqual(a);
    }
  });

  it('keeps nulls inside the trigger data schema, where they mean something', () => {
    const schema = { type: 'object', properties: { note: { type: ['string', 'null'], default: null } } };
    expect(workflowKind.normalize(workflow([], { trigger_data_json_schema: schema })).trigger_data_json_schema).toEqual(schema);
  });

  it('round-trips: normalising what present returned gives back the stored content (pull, then push, is no change)', () => {
    for (const input of [specWorkflowExample, cliPush, everyStepType]) {
      const content = workflowKind.normalize(input);
      expect(workflowKind.normalize(workflowKind.present(content, meta))).toEqual(content);
    }
  });
});

describe('workflowKind.present', () => {
  const required = ['key', 'name', 'steps', 'active', 'valid', 'environment', 'created_at', 'updated_at', 'sha'];

  it("returns the spec's Workflow shape with every required field", () => {
    const shown = workflowKind.present(workflowKind.normalize(specWorkflowExample), meta);
    for (const field of required) expect(shown).toHaveProperty(field);
    expect(shown).toEqual({
      ...specWorkflowExample,
      key: meta.key,
      active: true,
      environment: 'development',
      created_at: meta.created_at,
      updated_at: meta.updated_at,
      sha: meta.sha,
      settings: { is_commercial: false, override_preferences: true },
      steps: workflowKind.normalize(specWorkflowExample).steps,
    });
  });

  it('fills defaults for a minimal workflow', () => {
    const shown = workflowKind.present(workflowKind.normalize({ name: 'x', steps: [] }), { ...meta, sha: 'sha-minimal' });
    expect(shown).toMatchObject({
      categories: [],
      conditions: null,
      settings: { is_commercial: false, override_preferences: false },
      tags: [],
      trigger_data_json_schema: {},
      trigger_frequency: 'every_trigger',
      valid: true,
    });
    expect(shown).not.toHaveProperty('description');
  });

  it('reports valid: false for content with problems', () => {
    const shown = workflowKind.present(workflowKind.normalize(workflow([{ ref: 'x', type: 'teleport' }])), { ...meta, sha: 'sha-invalid' });
    expect(shown.valid).toBe(false);
  });

  it('returns experiment percentages as decimal strings, as Knock does', () => {
    const shown = workflowKind.present(workflowKind.normalize(everyStepType), { ...meta, sha: 'sha-every-step' });
    const experiment = (shown.steps as Array<Record<string, unknown>>).find((s) => s.type === 'random_cohort');
    expect((experiment?.cohort_branches as Array<{ percentage: unknown }>).map((c) => c.percentage)).toEqual(['33.3', '66.7']);
  });
});

describe('workflowKind.requestSchema', () => {
  const check = new Ajv({ strict: false }).compile(workflowKind.requestSchema);

  it('accepts what the Knock CLI and the spec examples send', () => {
    for (const body of [specWorkflowExample, cliPush, everyStepType]) expect(check(body), JSON.stringify(check.errors)).toBe(true);
  });

  it('leaves step-level checks to validate (so all problems are reported together)', () => {
    expect(check(workflow([{ type: 'teleport' }, {}]))).toBe(true);
    expect(check({ steps: [] })).toBe(false);
  });
});
