import { SaxesParser } from 'saxes';

/** One well-formedness problem: where it is (1-based line and column) and what it is. */
export interface XmlProblem {
  line: number;
  column: number;
  reason: string;
}

/** Options of wellFormednessProblems. */
export interface WellFormednessOptions {
  /** the attributes an element may have, for "did you mean" (none known: no suggestion) */
  attributeNames?: (element: string) => readonly string[];
}

interface OpenElement {
  name: string;
  offset: number;
}

// saxes prefixes its messages with "line:column: "
const saxesPosition = /^\d+:\d+: /;
// a '&' that starts no reference, outside comments, CDATA sections and processing instructions
const bareAmpersand = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<\?[\s\S]*?\?>|&(?!(?:[A-Za-z_:][\w.:-]*|#[0-9]+|#x[0-9A-Fa-f]+);)/g;
// what saxes reports about element nesting: this checker tracks nesting itself (below)
const nestingMessages = new Set(['unexpected close tag.', 'unexpected end.', 'documents may contain only one root.', 'text data outside of root node.']);

/**
 * Every well-formedness problem of an XML document that a parser can recover past, in document
 * order, each at its line and column, as `xmllint --noout` reports them: an end tag that does
 * not match names the element left open and where it opened. saxes reads the text; nesting is
 * tracked here, because saxes recovers from a wrong end tag by closing every open element,
 * after which each later line would be an error.
 */
export function wellFormednessProblems(text: string, options: WellFormednessOptions = {}): XmlProblem[] {
  const lines = lineStarts(text);
  const problems: { offset: number; reason: string }[] = [];
  const at = (offset: number, reason: string) => problems.push({ offset, reason });
  // saxes reads a '&' that starts no reference as an entity name up to the next ';', swallowing
  // the markup between: report it and hand saxes a blank in its place (offsets stay the same)
  const sanitized = text.replace(bareAmpersand, (match, offset: number) => {
    if (match !== '&') return match;
    at(offset, "'&' starts no entity reference (write &amp; for a literal '&')");
    return ' ';
  });
  const open: OpenElement[] = [];
  const endTagsSeen = new Set<number>();
  let rootSeen = false;
  const where = (element: OpenElement) => `line ${lineColumn(lines, element.offset).line}, column ${lineColumn(lines, element.offset).column}`;

  // one end tag, found at `offset` in the text, against the open elements
  const endTag = (offset: number) => {
    if (offset < 0 || endTagsSeen.has(offset)) return;
    endTagsSeen.add(offset);
    const name = /^<\/\s*([^\s>]*)/.exec(text.slice(offset, offset + 256))?.[1] ?? '';
    const written = `</${name}>`;
    const index = open.map((e) => e.name).lastIndexOf(name);
    const top = open.at(-1);
    if (!top) {
      at(offset, `the end tag ${written} comes after the document element has ended`);
    } else if (index === open.length - 1) {
      open.pop();
    } else if (index >= 0) {
      const left = open.splice(index).slice(1);
      const named = left.map((e) => `<${e.name}> (${where(e)})`);
      const several = left.length > 1;
      at(offset, `the end tag ${written} does not match the open element${several ? 's' : ''} ${named.join(' and ')}, which ${several ? 'have' : 'has'} no end tag`);
    } else {
      // a misspelt end tag: taken as the innermost element's, as xmllint does
      open.pop();
      at(offset, `the end tag ${written} does not match the open element <${top.name}> (${where(top)})`);
    }
  };

  const parser = new SaxesParser({ position: true });
  let inBrokenTag = false;
  parser.on('opentag', (tag) => {
    inBrokenTag = false;
    const offset = sanitized.lastIndexOf('<', parser.position - 1);
    if (rootSeen && open.length === 0) at(offset, `a second document element <${tag.name}> (a document has one)`);
    rootSeen = true;
    if (!tag.isSelfClosing) open.push({ name: tag.name, offset });
  });
  parser.on('closetag', (tag) => {
    if (!tag.isSelfClosing) endTag(sanitized.lastIndexOf('</', parser.position - 1));
  });
  parser.on('error', (error: Error) => {
    const message = error.message.replace(saxesPosition, '');
    const offset = Math.max(0, Math.min(parser.position - 1, text.length - 1));
    if (nestingMessages.has(message) || message.startsWith('unclosed tag: ')) return;
    if (message.startsWith('unmatched closing tag: ')) return endTag(sanitized.lastIndexOf('</', parser.position - 1));
    const [where_, reason] = describe(message, sanitized, offset, options);
    // an attribute value whose quote is missing runs on to the next quote: one report for it
    if (inBrokenTag && message === 'disallowed character.') return;
    if (reason.startsWith("'<' inside the start tag")) inBrokenTag = true;
    at(where_, reason);
  });
  parser.write(sanitized).close();
  for (const element of open.reverse()) at(text.length, `the document ends before the end tag of <${element.name}> (opened at ${where(element)})`);

  const seen = new Set<string>();
  return problems
    .sort((a, b) => a.offset - b.offset)
    .map((p) => ({ ...lineColumn(lines, p.offset), reason: p.reason }))
    .filter((p) => {
      const key = `${p.line}:${p.column}:${p.reason}`;
      return !seen.has(key) && seen.add(key) !== undefined;
    });
}

// saxes's message in words that say what to change, at the place to change it.
function describe(message: string, text: string, offset: number, options: WellFormednessOptions): [number, string] {
  const tagStart = text.lastIndexOf('<', offset);
  const element = /^<([^\s/>]+)/.exec(text.slice(tagStart, tagStart + 256))?.[1] ?? '';
  const reason = message.replace(/\.$/, '');
  if (message === 'attribute without value.') {
    // saxes stops after the name and the blanks that follow it
    const before = /([^\s<>"'=]+)\s*$/.exec(text.slice(tagStart, offset));
    const name = before?.[1] ?? '';
    const nameAt = before ? tagStart + before.index : offset;
    const next = /^\s*([^\s<>"'=/]+)\s*=\s*(["'][^"']*["'])/.exec(text.slice(nameAt + name.length, nameAt + name.length + 256));
    const known = options.attributeNames?.(element) ?? [];
    const joined = next && known.find((k) => k === `${name}_${next[1]}` || k === `${name}-${next[1]}`);
    const hint = joined ? ` (did you mean ${joined}=${next[2]}?)` : '';
    return [nameAt, `attribute ${name} of <${element}> has no value${hint}`];
  }
  if (message.startsWith('duplicate attribute: ')) {
    const name = message.slice('duplicate attribute: '.length).replace(/\.$/, '');
    const tag = text.slice(tagStart, offset + 1);
    const pattern = new RegExp(`\\s(${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})\\s*=`, 'g');
    const second = [...tag.matchAll(pattern)][1];
    return [second ? tagStart + second.index + 1 : offset, `attribute ${name} is given twice in <${element}>`];
  }
  if (message === 'undefined entity.') {
    const ref = /&([^;&\s]*);?$/.exec(text.slice(Math.max(0, offset - 64), offset + 1));
    const start = ref ? offset + 1 - ref[0].length : offset;
    return [start, `undefined entity &${ref?.[1] ?? ''}; (XML knows &lt; &gt; &amp; &quot; &apos; and character references)`];
  }
  // saxes reports a '<' in an attribute value at it or just after it
  const lt = text[offset] === '<' ? offset : text[offset - 1] === '<' ? offset - 1 : -1;
  const openedAt = lt > 0 ? text.lastIndexOf('<', lt - 1) : -1;
  if (message === 'disallowed character.' && openedAt >= 0 && insideQuotes(text.slice(openedAt, lt))) {
    const inTag = /^<([^\s/>]+)/.exec(text.slice(openedAt, openedAt + 256))?.[1] ?? '';
    return [lt, `'<' inside the start tag of <${inTag}>: an attribute value may not hold '<' (write &lt;), or its closing quote is missing`];
  }
  return [offset, reason];
}

// Whether the end of a start tag's text lies inside a quoted attribute value.
function insideQuotes(tag: string): boolean {
  let quote: string | undefined;
  for (const c of tag) {
    if (quote === undefined && (c === '"' || c === "'")) quote = c;
    else if (c === quote) quote = undefined;
  }
  return quote !== undefined;
}

// The offsets where lines start, for line and column of any offset (binary search).
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function lineColumn(starts: number[], offset: number): { line: number; column: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - starts[lo]! + 1 };
}
