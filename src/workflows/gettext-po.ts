/** One translation of a gettext PO file. */
export interface PoEntry {
  context: string | undefined;
  msgid: string;
  /** `msgstr`, or `msgstr[0]`, `msgstr[1]`, … for plural entries. */
  msgstr: string[];
  /** 1-based line of the entry's `msgid`. */
  line: number;
}

export type PoParse = { entries: PoEntry[] } | { error: { line: number; message: string } };

/** A `"…"` string with C escapes, alone on the rest of the line. */
const QUOTED = /^"((?:[^"\\]|\\.)*)"$/;
const KEYWORD = /^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(.*)$/;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'", '?': '?' };

function unquote(text: string): string | undefined {
  const match = QUOTED.exec(text.trim());
  if (!match) return undefined;
  return match[1].replace(/\\(.)/g, (_, c: string) => ESCAPES[c] ?? c);
}

interface Draft {
  context?: string;
  msgid?: string;
  plural?: string;
  msgstr: string[];
  line: number;
  /** The field continuation lines (`"…"`) append to. */
  last?: { field: 'context' | 'msgid' | 'plural' | 'msgstr'; index: number };
}

/**
 * Parses the subset of the PO format translations use: comments, `msgctxt`, `msgid`,
 * `msgid_plural`, `msgstr` / `msgstr[n]` and `"…"` continuation lines. Reports the first
 * problem with its line.
 */
export function parsePo(text: string): PoParse {
  const entries: PoEntry[] = [];
  /** Line of each (context, msgid) already read. */
  const seen = new Map<string, number>();
  let draft: Draft = { msgstr: [], line: 0 };
  const lines = text.split(/\r?\n/);

  const finish = (line: number): string | undefined => {
    if (draft.msgid === undefined) {
      return draft.context !== undefined ? 'msgctxt must be followed by msgid' : undefined;
    }
    if (draft.msgstr.length === 0) return `msgid on line ${draft.line} has no msgstr`;
    const identity = `${draft.context ?? ''}\u0004${draft.msgid}`;
    const first = seen.get(identity);
    if (first !== undefined) return `msgid "${draft.msgid}" is already defined on line ${first}`;
    seen.set(identity, draft.line);
    entries.push({ context: draft.context, msgid: draft.msgid, msgstr: draft.msgstr, line: draft.line });
    draft = { msgstr: [], line };
    return undefined;
  };

  for (let i = 0; i < lines.length; i++) {
    const lineNumber = i + 1;
    const line = lines[i].trim();
    const fail = (message: string): PoParse => ({ error: { line: lineNumber, message } });
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('"')) {
      const value = unquote(line);
      if (value === undefined) return fail('has an unterminated or malformed string');
      if (!draft.last) return fail('has a string that continues no msgid or msgstr');
      const { field, index } = draft.last;
      if (field === 'msgstr') draft.msgstr[index] += value;
      else draft[field] = (draft[field] ?? '') + value;
      continue;
    }
    const match = KEYWORD.exec(line);
    if (!match) return fail('must be a comment, a keyword (msgctxt, msgid, msgid_plural, msgstr) or a quoted string');
    const [, keyword, pluralIndex, rest] = match;
    const value = unquote(rest);
    if (value === undefined) return fail(`${keyword} must be followed by a quoted string`);
    // A new msgctxt or msgid after a msgstr starts the next entry.
    if ((keyword === 'msgctxt' || keyword === 'msgid') && draft.msgstr.length > 0) {
      const problem = finish(lineNumber);
      if (problem) return fail(problem);
    }
    switch (keyword) {
      case 'msgctxt':
        if (draft.context !== undefined || draft.msgid !== undefined) return fail('msgctxt must come before its msgid');
        draft.context = value;
        draft.last = { field: 'context', index: 0 };
        break;
      case 'msgid':
        if (draft.msgid !== undefined) return fail(`msgid on line ${draft.line} has no msgstr`);
        draft.msgid = value;
        draft.line = lineNumber;
        draft.last = { field: 'msgid', index: 0 };
        break;
      case 'msgid_plural':
        if (draft.msgid === undefined || draft.plural !== undefined || draft.msgstr.length > 0) return fail('msgid_plural must directly follow a msgid');
        draft.plural = value;
        draft.last = { field: 'plural', index: 0 };
        break;
      default: {
        if (draft.msgid === undefined) return fail(`${keyword} must follow a msgid`);
        const plural = pluralIndex !== undefined;
        if (plural !== (draft.plural !== undefined)) {
          return fail(plural ? 'msgstr[n] is only for entries with msgid_plural' : 'an entry with msgid_plural needs msgstr[0], msgstr[1], …');
        }
        const index = plural ? Number(pluralIndex) : 0;
        if (index !== draft.msgstr.length) return fail(plural ? `expected msgstr[${draft.msgstr.length}]` : 'msgid has more than one msgstr');
        draft.msgstr.push(value);
        draft.last = { field: 'msgstr', index };
      }
    }
  }
  const problem = finish(lines.length);
  return problem ? { error: { line: draft.line || lines.length, message: problem } } : { entries };
}
