import { renderLiquid } from './liquid-engines.ts';
import { markdownToHtml } from './markdown.ts';
import type { RenderSession } from './session.ts';
import type { FeedButtonSetBlock, FeedContentBlock, RenderedInAppFeed } from './types.ts';

/** Knock's feed components name the first button `primary`, the rest `secondary`. */
function buttonName(index: number): string {
  return index === 0 ? 'primary' : 'secondary';
}

/**
 * An in-app feed template rendered (spec `MessageInAppFeedContent`): a `body` markdown
 * block, an `action_url` text block and an `actions` button set, the names that
 * `@knocklabs/react`'s NotificationCell reads. As Knock documents for `ContentBlock`,
 * `content` is the block's Liquid template and `rendered` its output (HTML for markdown).
 */
export async function renderInAppFeed(template: Record<string, unknown>, session: RenderSession): Promise<RenderedInAppFeed> {
  const markdown = typeof template.markdown_body === 'string' ? template.markdown_body : '';
  const blocks: Array<FeedContentBlock | FeedButtonSetBlock> = [
    { type: 'markdown', name: 'body', content: markdown, rendered: markdownToHtml(await renderLiquid(markdown, session, 'text')) },
  ];
  let actionUrl: string | undefined;
  if (typeof template.action_url === 'string' && template.action_url.trim() !== '') {
    actionUrl = (await renderLiquid(template.action_url, session, 'text')).trim();
    blocks.push({ type: 'text', name: 'action_url', content: template.action_url, rendered: actionUrl });
  }
  const buttons = Array.isArray(template.action_buttons) ? (template.action_buttons as Array<Record<string, unknown>>) : [];
  if (buttons.length > 0) {
    blocks.push({
      type: 'button_set',
      name: 'actions',
      buttons: await Promise.all(
        buttons.map(async (button, index) => ({
          name: typeof button.name === 'string' && button.name !== '' ? button.name : buttonName(index),
          label: (await renderLiquid(String(button.label ?? ''), session, 'text')).trim(),
          action: (await renderLiquid(String(button.action ?? ''), session, 'text')).trim(),
        })),
      ),
    });
  }
  return { __typename: 'MessageInAppFeedContent', blocks, ...(actionUrl !== undefined ? { action_url: actionUrl } : {}) };
}
