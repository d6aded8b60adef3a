import MarkdownIt from 'markdown-it';

/**
 * Raw HTML is off: markdown bodies hold Liquid output, i.e. trigger data, and their HTML
 * is shown as is by feed components (`dangerouslySetInnerHTML`), so `<script>` in data
 * must come out as text. markdown-it also refuses `javascript:` links.
 */
const markdown = new MarkdownIt({ html: false, linkify: true });

/** Markdown rendered to HTML (no raw HTML passes through). */
export function markdownToHtml(source: string): string {
  return markdown.render(source).trim();
}
