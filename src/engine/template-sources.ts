import type { Db } from '../db/database.ts';
import { committedVersions } from '../versioning/resolve.ts';
import { parsePo } from '../workflows/gettext-po.ts';

/** Where a run's templates find partials, layouts and translations: the versions committed in its environment. */
export interface CommittedTemplateSources {
  partial(key: string): Promise<{ content: string; type?: string } | undefined>;
  layout(key: string): Promise<{ html_layout: string; text_layout: string; footer_links?: Array<{ text: string; url: string }> } | undefined>;
  translations(locale: string): Promise<Record<string, unknown> | undefined>;
}

/** Sources for one environment, memoized for the life of the object (one run). */
export function committedTemplateSources(db: Db, environmentId: string): CommittedTemplateSources {
  const memo = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, load: () => Promise<T>): Promise<T> => {
    if (!memo.has(key)) memo.set(key, load());
    return memo.get(key) as Promise<T>;
  };
  const committed = (type: string, key: string) =>
    committedVersions(db, environmentId, type)
      .select(['v.content'])
      .where('er.resource_key', '=', key)
      .executeTakeFirst()
      .then((row) => row?.content as Record<string, unknown> | undefined);
  return {
    partial: (key) => once(`p:${key}`, async () => {
      const content = await committed('partial', key);
      return content && { content: String(content.content ?? ''), type: content.type as string | undefined };
    }),
    layout: (key) => once(`l:${key}`, async () => {
      const content = await committed('email_layout', key);
      return content && {
        html_layout: String(content.html_layout ?? '{{ content }}'),
        text_layout: String(content.text_layout ?? '{{ content }}'),
        footer_links: content.footer_links as Array<{ text: string; url: string }> | undefined,
      };
    }),
    translations: (locale) => once(`t:${locale}`, async () => {
      const rows = await committedVersions(db, environmentId, 'translation')
        .select(['er.resource_key', 'v.content'])
        .where((eb) => eb.or([eb('er.resource_key', '=', locale), eb('er.resource_key', 'like', `${locale}/%`)]))
        .execute();
      if (rows.length === 0) return undefined;
      // Strings without a namespace at the top; a namespace's strings under its name (`ns:key` lookups).
      const merged: Record<string, unknown> = {};
      for (const row of rows) {
        const content = row.content as { content?: string; format?: string; namespace?: string };
        const strings = stringsOf(content);
        if (content.namespace) merged[content.namespace] = { ...(merged[content.namespace] as object | undefined), ...strings };
        else Object.assign(merged, strings);
      }
      return merged;
    }),
  };
}

function stringsOf(content: { content?: string; format?: string }): Record<string, unknown> {
  if (typeof content.content !== 'string') return {};
  try {
    if (content.format !== 'po') return JSON.parse(content.content) as Record<string, unknown>;
    const parsed = parsePo(content.content);
    return 'entries' in parsed ? Object.fromEntries(parsed.entries.map((entry) => [entry.msgid, entry.msgstr[0] ?? ""])) : {};
  } catch {
    return {};
  }
}
