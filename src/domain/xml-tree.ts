import xml2jsParser from 'xml2js/lib/parser.js';
import { wellFormednessProblems, type WellFormednessOptions, type XmlProblem } from './xml-wellformed.js';

const { parseStringPromise } = xml2jsParser;

/** An xml2js element: attributes under `$`, text under `_`, children by name (always arrays). */
export interface XmlElement {
  $?: Record<string, string>;
  _?: string;
  [child: string]: unknown;
}

/**
 * Parses XML text into the xml2js tree of its root element, or every well-formedness problem
 * (see wellFormednessProblems) when it is not well-formed.
 */
export async function parseXml(text: string, options: WellFormednessOptions = {}): Promise<{ root: string; element: XmlElement } | { problems: XmlProblem[] }> {
  const problems = wellFormednessProblems(text, options);
  if (problems.length) return { problems };
  try {
    const doc = (await parseStringPromise(text, { explicitArray: true, explicitCharkey: true, trim: true })) as Record<string, XmlElement>;
    if (!doc) return { problems: [{ line: 1, column: 1, reason: 'the document is empty' }] };
    const [root, element] = Object.entries(doc)[0] ?? [];
    if (!root || !element) return { problems: [{ line: 1, column: 1, reason: 'the document has no root element' }] };
    return { root, element: typeof element === 'string' ? { _: element } : element };
  } catch (error) {
    // saxes found nothing: what sax-js (inside xml2js) still refuses, with its position
    const msg = (error as Error).message;
    const m = /^(.*)\nLine: (\d+)\nColumn: (\d+)/s.exec(msg);
    if (m) return { problems: [{ reason: lowerFirst(m[1]!.trim()), line: Number(m[2]) + 1, column: Number(m[3]) }] };
    return { problems: [{ line: 1, column: 1, reason: lowerFirst(msg.split('\n')[0] ?? msg) }] };
  }
}

/** The child elements named `name` (an empty list when there are none). */
export function children(element: XmlElement, name: string): XmlElement[] {
  const value = element[name];
  if (!Array.isArray(value)) return [];
  return value.map((v) => (typeof v === 'string' ? { _: v } : (v as XmlElement)));
}

/** The names of an element's child elements, in first-seen order. */
export function childNames(element: XmlElement): string[] {
  return Object.keys(element).filter((k) => k !== '$' && k !== '_');
}

/** The trimmed text of an element. */
export function textOf(element: XmlElement): string {
  return (element._ ?? '').trim();
}

/** A deep copy of a tree. */
export function cloneTree<T>(tree: T): T {
  return structuredClone(tree);
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
