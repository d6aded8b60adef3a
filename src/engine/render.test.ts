import { describe, expect, it } from 'vitest';
import { RenderError, renderTemplate, type RenderScope, type TemplateSources } from './render.ts';

/** In-memory committed content, counting loads so caching can be checked. */
function fakeSources(content: {
  partials?: Record<string, { content: string; type?: string }>;
  layouts?: Record<string, { html_layout: string; text_layout: string; footer_links?: Array<{ text: string; url: string }> }>;
  translations?: Record<string, Record<string, unknown>>;
}): TemplateSources & { loads: string[] } {
  const loads: string[] = [];
  return {
    loads,
    async partial(key) {
      loads.push(`partial:${key}`);
      return content.partials?.[key];
    },
    async layout(key) {
      loads.push(`layout:${key}`);
      return content.layouts?.[key];
    },
    async translations(locale) {
      loads.push(`translations:${locale}`);
      return content.translations?.[locale];
    },
  };
}

function scope(overrides: Partial<RenderScope> = {}): RenderScope {
  return {
    recipient: { id: 'u1', name: 'Ada Lovelace', email: 'ada@example.com' },
    actor: { id: 'u2', name: 'Grace Hopper' },
    data: { project: 'Engine', url: 'https://example.com/p/1', count: 3 },
    tenant: { id: 'acme', name: 'Acme' },
    vars: { app_name: 'Herald' },
    workflow: { key: 'new-comment' },
    timestamp: '2023-12-31T19:30:00Z',
    ...overrides,
  };
}

const none = fakeSources({});

describe('renderTemplate: email', () => {
  it('renders subject, HTML and text bodies with the run variables (MessageEmailContent)', async () => {
    const content = await renderTemplate(
      'email',
      {
        subject: '{{ actor.name }} commented on {{ data.project }}',
        html_body: '<p>Hi {{ recipient.name }}, welcome to {{ vars.app_name }} ({{ tenant.name }}, {{ workflow.key }}).</p>',
        text_body: 'Hi {{ recipient.name }}',
        settings: {},
      },
      scope(),
      none,
    );
    expect(content).toEqual({
      __typename: 'MessageEmailContent',
      subject_line: 'Grace Hopper commented on Engine',
      html_body: '<p>Hi Ada Lovelace, welcome to Herald (Acme, new-comment).</p>',
      text_body: 'Hi Ada Lovelace',
    });
  });

  it('derives the text body from the HTML when the template has none', async () => {
    const content = await renderTemplate(
      'email',
      { subject: 's', html_body: '<h1>Hello</h1><p>See <a href="{{ data.url }}">the project</a>.<br>Thanks &amp; bye</p><ul><li>one</li><li>two</li></ul>' },
      scope(),
      none,
    );
    expect(content.text_body).toBe('Hello\n\nSee the project (https://example.com/p/1).\nThanks & bye\n\n- one\n- two');
  });

  it('escapes HTML in data for HTML bodies but not for the subject or text body', async () => {
    const content = await renderTemplate(
      'email',
      { subject: 'New: {{ data.title }}', html_body: '<p>{{ data.title }}</p>', text_body: 'Title: {{ data.title }}' },
      scope({ data: { title: '<script>alert(1)</script> & co' } }),
      none,
    );
    expect(content.html_body).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</p>');
    expect(content.subject_line).toBe('New: <script>alert(1)</script> & co');
    expect(content.text_body).toBe('Title: <script>alert(1)</script> & co');
  });

  it('wraps HTML and text bodies in the layout named by settings.layout_key, with footer links', async () => {
    const sources = fakeSources({
      layouts: {
        default: {
          html_layout: '<html><body><h1>{{ vars.app_name }}</h1>{{ content }}<footer>{% for link in footer_links %}<a href="{{ link.url }}">{{ link.text }}</a>{% endfor %}</footer></body></html>',
          text_layout: '{{ vars.app_name }}\n\n{{ content }}\n\n-- {{ footer_links[0].text }}',
          footer_links: [{ text: 'Unsubscribe {{ recipient.id }}', url: 'https://example.com/u/{{ recipient.id }}' }],
        },
      },
    });
    const content = await renderTemplate('email', { subject: 's', html_body: '<p>Hi {{ recipient.name }}</p>', settings: { layout_key: 'default' } }, scope(), sources);
    expect(content.html_body).toBe(
      '<html><body><h1>Herald</h1><p>Hi Ada Lovelace</p><footer><a href="https://example.com/u/u1">Unsubscribe u1</a></footer></body></html>',
    );
    expect(content.text_body).toBe('Herald\n\nHi Ada Lovelace\n\n-- Unsubscribe u1');
  });

  it('makes variables assigned in settings.pre_content available to the layout', async () => {
    const sources = fakeSources({ layouts: { l: { html_layout: '<div style="color:{{ color }}">{{ content }}</div>', text_layout: '{{ content }}' } } });
    const content = await renderTemplate('email', { subject: 's', html_body: 'x', settings: { layout_key: 'l', pre_content: '{% assign color = "red" %}' } }, scope(), sources);
    expect(content.html_body).toBe('<div style="color:red">x</div>');
  });

  it('uses no layout when layout_key is absent, and a missing layout is a RenderError', async () => {
    const sources = fakeSources({});
    await renderTemplate('email', { subject: 's', html_body: '<p>x</p>', settings: {} }, scope(), sources);
    expect(sources.loads).toEqual([]);
    await expect(renderTemplate('email', { subject: 's', html_body: 'x', settings: { layout_key: 'gone' } }, scope(), sources)).rejects.toThrow(
      new RenderError('email layout "gone" not found'),
    );
  });

  it('renders visual blocks: markdown to HTML, HTML as is, buttons as links, dividers, images, partial blocks', async () => {
    const sources = fakeSources({ partials: { card: { type: 'html', content: '<div class="card">{{ title }}: {% for item in items %}{{ item }};{% endfor %}</div>' } } });
    const content = await renderTemplate(
      'email',
      {
        subject: 's',
        visual_blocks: [
          { type: 'markdown', content: '# Hello {{ recipient.name }}\n\nWelcome to **{{ vars.app_name }}** {{ data.evil }}' },
          { type: 'html', content: '<p class="x">{{ data.evil }}</p>' },
          { type: 'divider' },
          { type: 'image', url: 'https://example.com/{{ recipient.id }}.png', alt: 'Logo', action: 'javascript:alert(1)' },
          { type: 'button_set', buttons: [{ label: 'Open {{ data.project }}', action: '{{ data.url }}', variant: 'solid' }] },
          { type: 'partial', key: 'card', name: 'Card', attrs: { title: 'For {{ recipient.name }}', items: '{{ data.items }}' } },
        ],
      },
      scope({ data: { evil: '<b>x</b>', project: 'Engine', url: 'https://example.com/p/1', items: ['a', 'b'] } }),
      sources,
    );
    const html = content.html_body;
    expect(html).toContain('<h1>Hello Ada Lovelace</h1>');
    expect(html).toContain('<p>Welcome to <strong>Herald</strong> &lt;b&gt;x&lt;/b&gt;</p>');
    expect(html).toContain('<p class="x">&lt;b&gt;x&lt;/b&gt;</p>');
    expect(html).toContain('<hr');
    expect(html).toContain('<a href="#" target="_blank"><img src="https://example.com/u1.png" alt="Logo"');
    expect(html).toMatch(/<a href="https:\/\/example.com\/p\/1" style="[^"]+" target="_blank">Open Engine<\/a>/);
    expect(html).toContain('<div class="card">For Ada Lovelace: a;b;</div>');
    expect(content.text_body).toContain('Hello Ada Lovelace');
    expect(content.text_body).toContain('Open Engine (https://example.com/p/1)');
  });

  it('renders sender settings with Liquid when the engine passes the channel settings', async () => {
    const content = await renderTemplate('email', { subject: 's', html_body: 'x' }, scope(), none, {
      emailSettings: { from_address: 'hello@{{ tenant.id }}.com', from_name: '{{ tenant.name }}', reply_to_address: 'support@example.com', cc_address: null },
    });
    expect(content).toMatchObject({ from: '"Acme" <hello@acme.com>', reply_to: 'support@example.com' });
    expect(content).not.toHaveProperty('cc');
  });
});

describe('renderTemplate: in-app feed', () => {
  it('renders body, action_url and action buttons as the blocks Knock feed components read (MessageInAppFeedContent)', async () => {
    const content = await renderTemplate(
      'in_app_feed',
      {
        markdown_body: '**{{ actor.name }}** commented on {{ data.project }}',
        action_url: '{{ data.url }}',
        action_buttons: [
          { label: 'Reply', action: '{{ data.url }}/reply' },
          { label: 'Mute', action: 'https://example.com/mute' },
        ],
      },
      scope(),
      none,
    );
    expect(content).toEqual({
      __typename: 'MessageInAppFeedContent',
      blocks: [
        { type: 'markdown', name: 'body', content: '**{{ actor.name }}** commented on {{ data.project }}', rendered: '<p><strong>Grace Hopper</strong> commented on Engine</p>' },
        { type: 'text', name: 'action_url', content: '{{ data.url }}', rendered: 'https://example.com/p/1' },
        {
          type: 'button_set',
          name: 'actions',
          buttons: [
            { name: 'primary', label: 'Reply', action: 'https://example.com/p/1/reply' },
            { name: 'secondary', label: 'Mute', action: 'https://example.com/mute' },
          ],
        },
      ],
      action_url: 'https://example.com/p/1',
    });
  });

  it('cannot inject HTML from data into the rendered markdown', async () => {
    const content = await renderTemplate(
      'in_app_feed',
      { markdown_body: 'Comment: {{ data.comment }} [x]({{ data.link }})' },
      scope({ data: { comment: '<img src=x onerror=alert(1)>', link: 'javascript:alert(1)' } }),
      none,
    );
    const body = content.blocks[0] as { rendered: string };
    expect(body.rendered).not.toContain('<img');
    expect(body.rendered).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(body.rendered).not.toContain('href="javascript:');
  });

  it('omits the action_url block and button set when the template has none', async () => {
    const content = await renderTemplate('in_app_feed', { markdown_body: 'Hi' }, scope(), none);
    expect(content.blocks).toEqual([{ type: 'markdown', name: 'body', content: 'Hi', rendered: '<p>Hi</p>' }]);
    expect(content).not.toHaveProperty('action_url');
  });
});

describe('renderTemplate: sms, push, chat', () => {
  it('renders an SMS body without escaping (MessageSmsContent)', async () => {
    const content = await renderTemplate('sms', { text_body: '{{ actor.name }} says: {{ data.msg }}' }, scope({ data: { msg: 'a < b & c' } }), none);
    expect(content).toEqual({ __typename: 'MessageSmsContent', body: 'Grace Hopper says: a < b & c' });
  });

  it('renders settings.to_number into the SMS recipient when set', async () => {
    const content = await renderTemplate('sms', { text_body: 'x', settings: { to_number: '{{ data.phone }}' } }, scope({ data: { phone: '+15550100' } }), none);
    expect(content.to).toBe('+15550100');
  });

  it('renders a push title and body and passes the trigger data (MessagePushContent)', async () => {
    const content = await renderTemplate('push', { title: 'From {{ actor.name }}', text_body: '{{ data.project }} updated' }, scope(), none);
    expect(content).toEqual({ __typename: 'MessagePushContent', title: 'From Grace Hopper', body: 'Engine updated', data: scope().data });
  });

  it('renders a chat markdown body and summary into the template (MessageChatContent)', async () => {
    const content = await renderTemplate('chat', { markdown_body: '*{{ actor.name }}* commented', summary: 'New comment on {{ data.project }}' }, scope(), none);
    expect(content).toEqual({
      __typename: 'MessageChatContent',
      template: { blocks: [{ type: 'markdown', name: 'body', content: '*Grace Hopper* commented' }], json_content: null, summary: 'New comment on Engine' },
    });
  });

  it('parses a chat json_body after rendering, and rejects one that is not JSON', async () => {
    const content = await renderTemplate('chat', { json_body: '{"text": {{ data.project | json }}, "n": {{ data.count }}}' }, scope(), none);
    expect(content.template).toEqual({ blocks: null, json_content: { text: 'Engine', n: 3 }, summary: null });
    await expect(renderTemplate('chat', { json_body: '{ {{ data.project }} }' }, scope(), none)).rejects.toBeInstanceOf(RenderError);
  });
});

describe('renderTemplate: webhook', () => {
  it('renders url, method, headers, query params and body without escaping', async () => {
    const content = await renderTemplate(
      'http',
      {
        method: 'post',
        url: 'https://hooks.example.com/{{ tenant.id }}',
        headers: [{ key: 'X-Recipient', value: '{{ recipient.id }}' }],
        query_params: [{ key: 'workflow', value: '{{ workflow.key }}' }],
        body: '{"recipient": {{ recipient | json }}, "note": "{{ data.note }}"}',
      },
      scope({ data: { note: '<b>&</b>' } }),
      none,
    );
    expect(content).toEqual({
      url: 'https://hooks.example.com/acme',
      method: 'POST',
      headers: { 'X-Recipient': 'u1' },
      query: { workflow: 'new-comment' },
      body: '{"recipient": {"id":"u1","name":"Ada Lovelace","email":"ada@example.com"}, "note": "<b>&</b>"}',
    });
  });
});

describe('renderTemplate: partials', () => {
  it('renders {% render %} with its parameters and only those in scope, loading each partial once', async () => {
    const sources = fakeSources({ partials: { greeting: { content: 'Hello {{ name }}{{ recipient.name }}!', type: 'text' } } });
    const content = await renderTemplate('sms', { text_body: '{% render "greeting", name: recipient.name %} {% render \'greeting\', name: "you" %}' }, scope(), sources);
    expect(content.body).toBe('Hello Ada Lovelace! Hello you!');
    expect(sources.loads).toEqual(['partial:greeting']);
  });

  it('accepts the {% partial %} spelling and partials inside partials', async () => {
    const sources = fakeSources({ partials: { outer: { content: '[{% partial "inner", v: v %}]' }, inner: { content: '<{{ v }}>' } } });
    const content = await renderTemplate('sms', { text_body: '{% partial "outer", v: data.project %}' }, scope(), sources);
    expect(content.body).toBe('[<Engine>]');
  });

  it('escapes data passed into a partial rendered in an HTML body', async () => {
    const sources = fakeSources({ partials: { p: { content: '<b>{{ v }}</b>' } } });
    const content = await renderTemplate('email', { subject: 's', html_body: '{% render "p", v: data.v %}' }, scope({ data: { v: '<i>' } }), sources);
    expect(content.html_body).toBe('<b>&lt;i&gt;</b>');
  });

  it('is a RenderError when a partial is missing or nests deeper than 5 levels', async () => {
    await expect(renderTemplate('sms', { text_body: '{% render "nope" %}' }, scope(), none)).rejects.toThrow(/partial "nope" not found/);
    const loop = fakeSources({ partials: { loop: { content: 'x{% render "loop" %}' } } });
    await expect(renderTemplate('sms', { text_body: '{% render "loop" %}' }, scope(), loop)).rejects.toThrow(/deeper than 5/);
    await expect(renderTemplate('email', { subject: 's', visual_blocks: [{ type: 'partial', key: 'nope', name: 'n', attrs: {} }] }, scope(), none)).rejects.toBeInstanceOf(
      RenderError,
    );
  });
});

describe('renderTemplate: translations', () => {
  const translations = {
    en: { greeting: 'Hello {{ name }}', 'shipping:canceled': 'Shipment canceled', orders: { shipping: { zero: 'No orders', one: 'One order', other: '{{ count }} orders' } } },
    fr: { greeting: 'Bonjour {{ name }}', 'Congratulations, {{ recipient.name }}!': 'Félicitations, {{ recipient.name }} !' },
    'fr-CA': { greeting: 'Allo {{ name }}' },
  };

  it('the t filter picks the recipient locale, passes variables and falls back to the language then en', async () => {
    const sources = fakeSources({ translations });
    const render = (locale: string) =>
      renderTemplate('sms', { text_body: '{{ "greeting" | t: name: recipient.name }} / {{ "shipping:canceled" | t }}' }, scope({ recipient: { id: 'u1', name: 'Ada', locale } }), sources);
    expect((await render('fr-CA')).body).toBe('Allo Ada / Shipment canceled');
    expect((await render('fr-BE')).body).toBe('Bonjour Ada / Shipment canceled');
    expect((await render('de')).body).toBe('Hello Ada / Shipment canceled');
  });

  it('options.locale overrides the recipient locale', async () => {
    const content = await renderTemplate('sms', { text_body: '{{ "greeting" | t: name: "x" }}' }, scope({ recipient: { id: 'u1', locale: 'en' } }), fakeSources({ translations }), { locale: 'fr' });
    expect(content.body).toBe('Bonjour x');
  });

  it('the t filter pluralizes nested keys with count and returns the key when nothing matches', async () => {
    const sources = fakeSources({ translations });
    const content = await renderTemplate(
      'sms',
      { text_body: '{{ "orders.shipping" | t: count: 0 }}|{{ "orders.shipping" | t: count: 1 }}|{{ "orders.shipping" | t: count: 4 }}|{{ "missing.key" | t }}' },
      scope(),
      sources,
    );
    expect(content.body).toBe('No orders|One order|4 orders|missing.key');
  });

  it('the t tag uses its body as the key and renders the translation with the run variables', async () => {
    const sources = fakeSources({ translations });
    const template = { text_body: '{% t %}Congratulations, {{ recipient.name }}!{% endt %}' };
    expect((await renderTemplate('sms', template, scope({ recipient: { id: 'u1', name: 'Ada', locale: 'fr' } }), sources)).body).toBe('Félicitations, Ada !');
    expect((await renderTemplate('sms', template, scope({ recipient: { id: 'u1', name: 'Ada', locale: 'en' } }), sources)).body).toBe('Congratulations, Ada!');
  });

  it('escapes data inside a translation once in HTML bodies', async () => {
    const content = await renderTemplate('email', { subject: 's', html_body: '<p>{{ "greeting" | t: name: data.n }}</p>' }, scope({ data: { n: '<b>' } }), fakeSources({ translations }));
    expect(content.html_body).toBe('<p>Hello &lt;b&gt;</p>');
  });
});

describe('renderTemplate: batch variables and Knock filters', () => {
  it('exposes activities, actors, total_activities and total_actors to templates', async () => {
    const content = await renderTemplate(
      'sms',
      {
        text_body:
          '{% if total_activities > 1 %}{{ actor.name }} left {{ total_activities }} comments{% endif %}: {% for activity in activities %}{{ activity.actor.name }}: {{ activity.comment }}; {% endfor %}{{ total_actors | pluralize: "user", "users" }}',
      },
      scope({
        activities: [
          { id: 'a1', comment: 'first', actor: { id: 'u2', name: 'Grace' } },
          { id: 'a2', comment: 'second', actor: { id: 'u3', name: 'Alan' } },
        ],
        actors: [{ id: 'u2' }, { id: 'u3' }],
        total_activities: 2,
        total_actors: 2,
      }),
      none,
    );
    expect(content.body).toBe('Grace Hopper left 2 comments: Grace: first; Alan: second; users');
  });

  it("implements Knock's documented Liquid helpers", async () => {
    const render = async (text_body: string, data: Record<string, unknown> = {}) => (await renderTemplate('sms', { text_body }, scope({ data }), none)).body;
    expect(await render('{{ timestamp | timezone: "America/New_York" }}')).toBe('2023-12-31T14:30:00-05:00');
    expect(await render('{{ timestamp | date: "%-I:%M %p %Z", "America/New_York" }}')).toBe('2:30 PM EST');
    expect(await render('{{ timestamp | format_date_in_locale: "en-GB", "long" }}')).toBe('31 December 2023');
    expect(await render('{{ timestamp | format_date_in_locale: "en-US" }}')).toBe('12/31/23');
    expect(await render('{{ timestamp | format_datetime_in_locale: "en-GB", "medium", "short" }}')).toBe('31 Dec 2023, 19:30');
    expect(await render('{{ 10000 | format_number: "en" }}')).toBe('10,000');
    expect(await render('{{ 10 | currency: "GBP", "en" }}|{{ 10 | currency }}|{{ 10.99 | rounded_currency: "GBP", "en" }}')).toBe('£10.00|$10.00|£11');
    expect(await render('{{ data.o | json }}', { o: { a: 1 } })).toBe('{"a":1}');
    expect(await render('{% assign o = data.s | from_json %}{{ o.a }}', { s: '{"a":7}' })).toBe('7');
    expect(await render('{{ 1 | pluralize: "user", "users" }} {{ 3 | pluralize: "user", "users" }}')).toBe('user users');
    expect(await render('{{ "my project name" | titlecase }}')).toBe('My Project Name');
    expect(await render('{{ "hello" | md5 }}')).toBe('5d41402abc4b2a76b9719d911017c592');
    expect(await render('{{ "u1" | sha256 }}')).toHaveLength(64);
    expect(await render('{{ "u1" | hmac_sha256: "k" }}')).toHaveLength(64);
    expect(await render('{{ data.a | intersect: data.b | join: "," }}', { a: ['Acme Corp', 'InGen', 'x'], b: ['InGen', 'Acme Corp'] })).toBe('Acme Corp,InGen');
    expect(await render('{{ "1.0.0" | compare_versions: "2.0.0" }} {{ "1.10.0" | compare_versions: "1.9.0" }} {{ "1.0.0" | compare_versions: "1.0.0" }}')).toBe('-1 1 0');
    expect(await render('{{ "**hi**" | from_markdown }}')).toBe('<p><strong>hi</strong></p>');
  });

  it('ignores unknown filters and missing variables', async () => {
    const content = await renderTemplate('sms', { text_body: '{{ data.project | no_such_filter: 1 }}|{{ data.missing.deep }}|{{ nothing }}' }, scope(), none);
    expect(content.body).toBe('Engine||');
  });

  it('reports Liquid syntax and runtime errors as RenderError', async () => {
    await expect(renderTemplate('sms', { text_body: '{% if %}' }, scope(), none)).rejects.toBeInstanceOf(RenderError);
    await expect(renderTemplate('sms', { text_body: '{% teleport %}' }, scope(), none)).rejects.toThrow(/Liquid/);
  });
});
