import { escapeHtml, safeUrl } from './html-text.ts';
import { evaluateExpression, renderLiquid } from './liquid-engines.ts';
import { markdownToHtml } from './markdown.ts';
import type { RenderSession } from './session.ts';

type Block = Record<string, unknown>;

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** A CSS value from a block's style settings, or undefined when it could break out of the attribute. */
function cssValue(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return `${value}px`;
  return typeof value === 'string' && /^[#\w\s.,%()-]+$/.test(value) ? value : undefined;
}

function style(declarations: Record<string, string | undefined>): string {
  return Object.entries(declarations)
    .filter(([, value]) => value !== undefined)
    .map(([property, value]) => `${property}:${value}`)
    .join(';');
}

/** The block's `layout_attrs` (padding, alignment) as a wrapping element. */
function wrap(block: Block, html: string): string {
  const layout = record(block.layout_attrs);
  const sides = ['padding_top', 'padding_right', 'padding_bottom', 'padding_left'].map((side) => layout[side]);
  const padding = sides.some((side) => side !== undefined) ? sides.map((side) => cssValue(side) ?? '0px').join(' ') : undefined;
  const align = ['left', 'center', 'right'].includes(String(layout.horizontal_align)) ? String(layout.horizontal_align) : undefined;
  const css = style({ padding, 'text-align': align });
  return css ? `<div style="${css}">${html}</div>` : `<div>${html}</div>`;
}

async function renderButtonSet(block: Block, session: RenderSession): Promise<string> {
  const gap = cssValue(record(block.layout_attrs).column_gap) ?? '8px';
  const buttons = Array.isArray(block.buttons) ? block.buttons.map(record) : [];
  const links = await Promise.all(
    buttons.map(async (button) => {
      const label = await renderLiquid(text(button.label), session, 'text');
      const href = safeUrl(await renderLiquid(text(button.action), session, 'text'));
      const attrs = record(button.style_attrs);
      const color = cssValue(attrs.background_color) ?? '#000000';
      const outline = button.variant === 'outline';
      const css = style({
        display: record(button.size_attrs).is_fullwidth === true ? 'block' : 'inline-block',
        padding: '8px 16px',
        'margin-right': gap,
        'text-decoration': 'none',
        'text-align': 'center',
        'border-radius': cssValue(attrs.border_radius) ?? '4px',
        border: `${cssValue(attrs.border_width) ?? '1px'} solid ${cssValue(attrs.border_color) ?? color}`,
        'background-color': outline ? 'transparent' : color,
        color: cssValue(attrs.text_color) ?? (outline ? color : '#ffffff'),
      });
      return `<a href="${escapeHtml(href)}" style="${css}" target="_blank">${escapeHtml(label)}</a>`;
    }),
  );
  return links.join('');
}

async function renderImage(block: Block, session: RenderSession): Promise<string> {
  const src = safeUrl(await renderLiquid(text(block.url), session, 'text'));
  const alt = await renderLiquid(text(block.alt), session, 'text');
  const width = cssValue(record(block.style_attrs).width);
  const img = `<img src="${escapeHtml(src)}" alt="${escapeHtml(alt)}" style="${style({ width, 'max-width': '100%', height: 'auto', border: '0' })}" />`;
  const action = text(block.action) === '' ? '' : safeUrl(await renderLiquid(text(block.action), session, 'text'));
  return action ? `<a href="${escapeHtml(action)}" target="_blank">${img}</a>` : img;
}

/** A single `{{ path }}` input passes its value with its type (lists, objects); other inputs are text. */
const SINGLE_EXPRESSION = /^\s*\{\{-?\s*([^{}|]+?)\s*-?\}\}\s*$/;

async function partialInputs(attrs: Record<string, unknown>, session: RenderSession): Promise<Record<string, unknown>> {
  const inputs: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(attrs)) {
    const expression = typeof value === 'string' ? SINGLE_EXPRESSION.exec(value)?.[1] : undefined;
    if (expression !== undefined) inputs[name] = await evaluateExpression(expression, session);
    else inputs[name] = typeof value === 'string' ? await renderLiquid(value, session, 'text') : value;
  }
  return inputs;
}

async function renderPartialBlock(block: Block, session: RenderSession): Promise<string> {
  const partial = await session.partial(text(block.key));
  const inputs = await partialInputs(record(block.attrs), session);
  if (partial.type === 'markdown') return markdownToHtml(await renderLiquid(partial.content, session, 'text', inputs));
  if (partial.type === 'text') return escapeHtml(await renderLiquid(partial.content, session, 'text', inputs));
  return renderLiquid(partial.content, session, 'html', inputs);
}

async function renderBlock(block: Block, session: RenderSession): Promise<string> {
  switch (block.type) {
    case 'markdown':
      return markdownToHtml(await renderLiquid(text(block.content), session, 'text'));
    case 'html':
      return renderLiquid(text(block.content), session, 'html');
    case 'divider':
      return '<hr style="border:none;border-top:1px solid #e5e7eb;margin:0" />';
    case 'image':
      return renderImage(block, session);
    case 'button_set':
      return renderButtonSet(block, session);
    case 'partial':
      return renderPartialBlock(block, session);
    default:
      return '';
  }
}

/**
 * An email's visual blocks as HTML: markdown converted (data in it cannot inject HTML),
 * HTML blocks as written with their Liquid output escaped, buttons as styled links,
 * partial blocks rendered through their partial with the block's `attrs` as inputs.
 */
export async function visualBlocksToHtml(blocks: unknown[], session: RenderSession): Promise<string> {
  const parts: string[] = [];
  for (const block of blocks.map(record)) {
    const html = await renderBlock(block, session);
    if (html !== '') parts.push(wrap(block, html));
  }
  return parts.join('\n');
}
