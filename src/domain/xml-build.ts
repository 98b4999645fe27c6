import xml2jsBuilder from 'xml2js/lib/builder.js';
import type { XmlElement } from './xml-tree.js';

// apart from xml-tree.ts: only rendering needs xmlbuilder, and validate only parses
const { Builder } = xml2jsBuilder;

/** Serialises a tree back to XML text (no declaration). */
export function buildXml(root: string, element: XmlElement): string {
  const builder = new Builder({ headless: true, renderOpts: { pretty: true, indent: '  ', newline: '\n' } });
  return builder.buildObject({ [root]: element }) + '\n';
}
