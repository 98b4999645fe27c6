import { SaxesParser, type SaxesAttributeNS, type SaxesTagNS } from 'saxes';
import { VmbatchError } from '../errors/vmbatch-error.js';

// XML text -> a small element tree with namespaces and start-tag positions, the input of the
// RDF/XML reader. Not well-formed XML ends here, with the place saxes stopped at.
// A catalogue of 10,000 packages has ~100,000 elements: the tree can be handed over one
// top-level element at a time (streamXmlElements), so that no more than one node's subtree is
// alive at once, and leaves share one empty children list.

/** An attribute as saxes reports it with namespaces on: qualified name, namespace URI, local name, value. */
export type XmlAttribute = Pick<SaxesAttributeNS, 'name' | 'prefix' | 'local' | 'uri' | 'value'>;

/** The text a tree was parsed from, shared by its elements. */
export interface XmlText {
  text: string;
}

/** One element of the tree. */
export interface XmlElement {
  /** the qualified name as written, e.g. `kb:TarPackage` */
  name: string;
  /** the namespace URI ('' when none) */
  uri: string;
  local: string;
  /** the attributes in the order written, namespace declarations left out */
  attributes: readonly XmlAttribute[];
  children: readonly XmlElement[];
  /** the element's character data (text and CDATA); for an element with children, only what follows the last one */
  text: string;
  /** where the start tag's `<` is: line and column, both 1-based (columns count UTF-16 units) */
  line: number;
  column: number;
  /** the start tag's place in the document text, for messages (see startTag) */
  document: XmlText;
  start: number;
  end: number;
  /** where the element ends in the document text: just past its end tag (`end` for `<x/>`) */
  close: number;
}

/** What streamXmlElements hands over. */
export interface XmlElementHandlers {
  /** the document element, at its start tag (attributes, no children yet); true to have its children handed over one by one */
  root(element: XmlElement): boolean;
  /** a child of the document element, complete, at its end tag (not kept in the root's children) */
  child(element: XmlElement): void;
}

/** The namespace URI of the `xml:` prefix (xml:base, xml:lang). */
export const xmlNamespace = 'http://www.w3.org/XML/1998/namespace';
const xmlnsNamespace = 'http://www.w3.org/2000/xmlns/';
const none: readonly never[] = Object.freeze([]);

// <!ENTITY name 'value'> in an internal DTD subset (Protégé writes &kb; and &rdf; this way)
const entityDeclaration = /<!ENTITY\s+([^\s%"'>]+)\s+(["'])([^"']*)\2\s*>/g;
// saxes prefixes its messages with "line:column: "
const saxesPosition = /^\d+:\d+: /;
const blanks = /\s+/g;
const blankBeforeEnd = / (\/?>)$/;
const oddBlanks = /[\t\n\r]| {2}| \/?>$/;

/** Parses `text` into an element tree; throws CATALOGUE_XML_INVALID at the first well-formedness error. */
export function parseXmlElements(text: string, source: string): XmlElement {
  return streamXmlElements(text, source, { root: () => false, child: () => undefined });
}

/**
 * Parses `text`, handing over the document element at its start and then, if `root` asks for it,
 * each of its children when complete; returns the document element. Throws CATALOGUE_XML_INVALID
 * at the first well-formedness error.
 */
export function streamXmlElements(text: string, source: string, handlers: XmlElementHandlers): XmlElement {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const document: XmlText = { text };
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let streaming = false;
  // saxes pops (and reports) the innermost element before it finds that an end tag does not match it
  let closed: XmlElement | undefined;
  // start tags come in document order: a cursor over the lines finds each line in amortised O(1)
  let line = 1;
  let lineStart = 0;
  let nextNewline = text.indexOf('\n');

  parser.on('doctype', (doctype) => {
    // saxes does not read DTDs; general entities of the internal subset are all catalogues use
    for (const m of doctype.matchAll(entityDeclaration)) parser.ENTITIES[m[1]!] = m[3]!;
  });
  parser.on('opentag', (tag: SaxesTagNS) => {
    // the parser has just read the tag's `>`; `<` cannot occur inside a start tag, so the last one is its start
    const end = parser.position;
    const start = text.lastIndexOf('<', end - 1);
    while (nextNewline >= 0 && nextNewline < start) {
      line++;
      lineStart = nextNewline + 1;
      nextNewline = text.indexOf('\n', lineStart);
    }
    const element: XmlElement = {
      name: tag.name,
      uri: tag.uri,
      local: tag.local,
      attributes: attributesOf(tag),
      children: none,
      text: '',
      line,
      column: start - lineStart + 1,
      document,
      start,
      end,
      close: end,
    };
    const parent = stack[stack.length - 1];
    if (parent === undefined) {
      root = element;
      streaming = handlers.root(element);
    } else if (!(streaming && stack.length === 1)) {
      if (parent.children === none) parent.children = [element];
      else (parent.children as XmlElement[]).push(element);
      // text before a child is layout between elements, not a value: drop it
      parent.text = '';
    }
    stack.push(element);
  });
  parser.on('closetag', () => {
    closed = stack.pop()!;
    closed.close = parser.position;
    if (streaming && stack.length === 1) handlers.child(closed);
  });
  const addText = (data: string) => {
    // a streamed document element's text is only layout between its children
    if (stack.length > 1 || (stack.length === 1 && !streaming)) stack[stack.length - 1]!.text += data;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);

  try {
    parser.write(text).close();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new VmbatchError('CATALOGUE_XML_INVALID', {
      source,
      line: parser.line,
      // saxes counts columns from 0 up to the next character: the 1-based column of the last one read
      column: Math.max(parser.column, 1),
      reason: readableReason(message.replace(saxesPosition, ''), text, parser.position, stack[stack.length - 1], closed),
    });
  }
  // close() fails on a document without a document element, so there is one here
  return root!;
}

/** What is between an element's start and end tags, as written (markup, entities and CDATA sections kept). */
export function innerXml(element: XmlElement): string {
  const { text } = element.document;
  return element.close === element.end ? '' : text.slice(element.end, text.lastIndexOf('</', element.close - 1));
}

/**
 * The start tag of an element as a person finds it in the file: as written (entities unexpanded),
 * on one line. Made only when asked for (messages, a node's `at`), never for every element.
 */
export function startTag(element: Pick<XmlElement, 'document' | 'start' | 'end'>): string {
  const written = element.document.text.slice(element.start, element.end);
  // most start tags are on one line with single spaces: nothing to rewrite
  return oddBlanks.test(written) ? written.replace(blanks, ' ').replace(blankBeforeEnd, '$1') : written;
}

function attributesOf(tag: SaxesTagNS): readonly XmlAttribute[] {
  let attributes: XmlAttribute[] | undefined;
  for (const key in tag.attributes) {
    const a = tag.attributes[key]!;
    if (a.uri === xmlnsNamespace) continue;
    if (attributes) attributes.push(a);
    else attributes = [a];
  }
  return attributes ?? none;
}

// saxes says "unexpected close tag." and "unclosed tag: a"; say which tags and where they start
function readableReason(reason: string, text: string, offset: number, current: XmlElement | undefined, closed: XmlElement | undefined): string {
  if (reason === 'unexpected close tag.' && closed) {
    const at = text.lastIndexOf('</', offset);
    const written = at < 0 ? 'this end tag' : text.slice(at, text.indexOf('>', at) + 1);
    return `the end tag ${written} does not match the start tag <${closed.name}> at line ${closed.line}, column ${closed.column}`;
  }
  if (reason.startsWith('unclosed tag: ') && current) {
    return `the document ends before the end tag of <${current.name}> (line ${current.line}, column ${current.column})`;
  }
  return reason.replace(/\.$/, '');
}
