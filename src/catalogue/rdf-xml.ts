import { innerXml, streamXmlElements, xmlNamespace, type XmlAttribute, type XmlElement } from './xml-elements.js';

// RDF/XML in the "striped" syntax catalogues are written in (GridFactory by hand, Janitor by
// Protégé): node elements, property attributes and property elements, rdf:resource / rdf:nodeID
// references, nested node elements, rdf:parseType="Resource", xml:base. It also accepts what the
// GridFactory note writes and strict RDF/XML rejects: a property element holding property
// elements without rdf:parseType (`<kb:VirtualMachine><kb:os>…</kb:os>…</kb:VirtualMachine>`)
// is read as if it had rdf:parseType="Resource".

/** The namespace URI of the `rdf:` vocabulary. */
export const rdfNamespace = 'http://www.w3.org/1999/02/22-rdf-syntax-ns#';
/** The namespace URI of the `rdfs:` vocabulary. */
export const rdfsNamespace = 'http://www.w3.org/2000/01/rdf-schema#';

/** A type of a node: namespace URI and local name, and how it was written (qualified name or URI). */
export interface RdfName {
  namespace: string;
  local: string;
  written: string;
}

/** The object of a statement: a literal, a reference (resolved URI, when it resolves, and the text as written), or a node written inline. */
export type RdfValue = { kind: 'literal'; text: string } | { kind: 'ref'; uri: string | undefined; text: string } | { kind: 'node'; node: RdfDescription };

/** One statement about a node. */
export interface RdfProperty {
  namespace: string;
  local: string;
  /** the qualified name as written, e.g. `kb:url` */
  name: string;
  value: RdfValue;
  /** where it is written: the property element, or the node element for a property attribute */
  element: XmlElement;
  /** the base URI in scope there (for literals that are URLs, like kb:url) */
  base: string;
}

/** A node and what the document says about it. */
export interface RdfDescription {
  /** absolute URI, or `_:bN` / `_:NODEID` for a blank node */
  subject: string;
  /** the attribute that named it (rdf:about, rdf:ID or rdf:nodeID), as written; none for an anonymous blank node */
  named: XmlAttribute | undefined;
  /** from the node element's name (unless rdf:Description) and every rdf:type */
  types: RdfName[];
  properties: RdfProperty[];
  /** the node element, or the property element of a parseType="Resource" node */
  element: XmlElement;
  /** true when written inside a property element rather than at the top level */
  nested: boolean;
}

/** Something the reader skipped or read leniently. */
export interface RdfWarning {
  element: XmlElement;
  message: string;
}

/** What an RDF/XML document says: every description in document order (nested ones too). */
export interface RdfDocument {
  /** the base URI at the document element (its xml:base, or the one given) */
  base: string;
  descriptions: RdfDescription[];
  warnings: RdfWarning[];
}

/** How to read a document. */
export interface RdfXmlOptions {
  /** the base URI when the document has no xml:base (the document's own URL) */
  base: string;
  /**
   * Local names of the classes whose elements are node elements (in any namespace but rdf:, rdfs:
   * and xml:); a property element with one such child holds that node inline. Case matters:
   * `<kb:Tag>` is a node, `<kb:tag>` a property.
   */
  nodeClasses: ReadonlySet<string>;
}

// the rdf: names an unqualified attribute is taken for (old RDF/XML allowed them)
const bareRdfAttributes = new Set(['about', 'ID', 'resource', 'nodeID', 'parseType', 'datatype']);
// a fragment a URL keeps as written (nothing to percent-encode)
const plainFragment = /^#[\w.~!$&'()*+,;=:@/?-]*$/;
// the blank node ids the reader makes up
const generatedBlank = /^b\d+$/;

interface Attributes {
  about?: XmlAttribute;
  id?: XmlAttribute;
  nodeId?: XmlAttribute;
  resource?: XmlAttribute;
  parseType?: XmlAttribute;
  type?: XmlAttribute;
  base?: XmlAttribute;
  properties: readonly XmlAttribute[];
}
// most elements have no attributes: they share this
const noAttributes: Attributes = Object.freeze({ properties: Object.freeze([]) });

/** Reads the RDF statements of an element tree. */
export function readRdfXml(root: XmlElement, options: RdfXmlOptions): RdfDocument {
  const reader = new Reader(options.nodeClasses);
  const base = reader.begin(root, options.base);
  if (reader.wrapped) for (const child of root.children) reader.node(child, base, false);
  // a bare node element applies its own xml:base
  else reader.node(root, options.base, false);
  return { base, descriptions: reader.descriptions, warnings: reader.warnings };
}

/**
 * Parses RDF/XML text and hands each description to `sink` as soon as its top-level node element
 * is complete (nested descriptions right after their parent), so that a large catalogue's element
 * tree is never whole in memory. Returns the document's base and the warnings.
 */
export function streamRdfXml(text: string, source: string, options: RdfXmlOptions, sink: (description: RdfDescription) => void): Omit<RdfDocument, 'descriptions'> {
  const reader = new Reader(options.nodeClasses);
  let base = options.base;
  const flush = () => {
    for (const d of reader.descriptions) sink(d);
    reader.descriptions.length = 0;
  };
  const root = streamXmlElements(text, source, {
    root: (element) => {
      base = reader.begin(element, options.base);
      return reader.wrapped;
    },
    child: (element) => {
      reader.node(element, base, false);
      flush();
    },
  });
  if (!reader.wrapped) {
    reader.node(root, options.base, false);
    flush();
  }
  return { base, warnings: reader.warnings };
}

class Reader {
  readonly descriptions: RdfDescription[] = [];
  readonly warnings: RdfWarning[] = [];
  private blank = 0;
  // per base: the base without its fragment, and the other references already resolved (a
  // catalogue names its few base systems and tags thousands of times)
  private readonly resolved = new Map<string, { document: string; refs: Map<string, string | undefined> }>();

  /** whether the document element is rdf:RDF (else it is itself the one node element) */
  wrapped = false;

  constructor(private readonly nodeClasses: ReadonlySet<string>) {}

  /** Takes in the document element; returns the base URI at it. */
  begin(root: XmlElement, base: string): string {
    this.wrapped = root.uri === rdfNamespace && root.local === 'RDF';
    if (this.wrapped) return this.baseOf(this.attributes(root), base, root);
    // a bare node element: node() reads (and warns about) its attributes; only xml:base is needed here
    const xmlBase = root.attributes.find((a) => a.uri === xmlNamespace && a.local === 'base');
    return (xmlBase && this.resolve(xmlBase.value, base)) ?? base;
  }

  /** Reads a node element and its property elements; returns the description. */
  node(element: XmlElement, inherited: string, nested: boolean): RdfDescription {
    const a = this.attributes(element);
    const base = this.baseOf(a, inherited, element);
    const description: RdfDescription = {
      subject: this.subjectOf(a, base),
      named: a.about ?? a.id ?? a.nodeId,
      types: [],
      properties: [],
      element,
      nested,
    };
    this.descriptions.push(description);
    if (!(element.uri === rdfNamespace && element.local === 'Description')) {
      description.types.push({ namespace: element.uri, local: element.local, written: element.name });
    }
    if (a.type) description.types.push(this.typeName(a.type.value, base));
    this.propertyAttributes(description, a.properties, element, base);
    for (const child of element.children) this.property(description, child, base);
    return description;
  }

  /** Reads one property element of `subject`. */
  private property(subject: RdfDescription, element: XmlElement, inherited: string): void {
    const a = this.attributes(element);
    const base = this.baseOf(a, inherited, element);
    if (element.uri === rdfNamespace && element.local === 'type') {
      const written = a.resource?.value ?? element.text.trim();
      if (written) subject.types.push(this.typeName(written, base));
      return;
    }
    const kind = a.parseType?.value;
    const children = element.children;
    if (kind === 'Collection' || (kind === undefined && !a.resource && !a.nodeId && children.length > 1 && children.every((c) => this.isNodeElement(c)))) {
      // a list of nodes: read as that many values of the property
      if (kind === undefined) this.warn(element, `several nodes in one ${element.name}; read as rdf:parseType="Collection"`);
      for (const child of children) this.add(subject, element, base, { kind: 'node', node: this.node(child, base, true) });
      return;
    }
    this.add(subject, element, base, this.value(element, a, base));
  }

  /** The one value of a property element (other than a list of nodes). */
  private value(element: XmlElement, a: Attributes, base: string): RdfValue {
    if (a.parseType) {
      const kind = a.parseType.value;
      if (kind === 'Resource') return { kind: 'node', node: this.resource(element, a, base) };
      if (kind !== 'Literal') this.warn(element, `rdf:parseType="${kind}" is not an RDF parse type; read as "Literal"`);
      // an XML literal: the content as written, markup and all
      return { kind: 'literal', text: innerXml(element) };
    }
    if (a.resource) {
      if (a.properties.length) this.warn(element, 'property attributes next to rdf:resource are ignored');
      return { kind: 'ref', uri: this.resolve(a.resource.value, base), text: a.resource.value };
    }
    if (a.nodeId) return { kind: 'ref', uri: blankSubject(a.nodeId.value), text: a.nodeId.value };
    const children = element.children;
    if (children.length === 0) {
      if (a.properties.length) return { kind: 'node', node: this.resource(element, a, base) };
      return { kind: 'literal', text: element.text };
    }
    if (children.length === 1 && this.isNodeElement(children[0]!)) return { kind: 'node', node: this.node(children[0]!, base, true) };
    // not strict RDF/XML, but what the GridFactory note writes: property elements inside a
    // property element, read as if rdf:parseType="Resource" were given
    return { kind: 'node', node: this.resource(element, a, base) };
  }

  private add(subject: RdfDescription, element: XmlElement, base: string, value: RdfValue): void {
    subject.properties.push({ namespace: element.uri, local: element.local, name: element.name, value, element, base });
  }

  /** A blank node whose properties are the children (and property attributes) of `element`. */
  private resource(element: XmlElement, a: Attributes, base: string): RdfDescription {
    const description: RdfDescription = {
      subject: `_:b${++this.blank}`,
      named: undefined,
      types: [],
      properties: [],
      element,
      nested: true,
    };
    this.descriptions.push(description);
    this.propertyAttributes(description, a.properties, element, base);
    for (const child of element.children) this.property(description, child, base);
    return description;
  }

  private propertyAttributes(description: RdfDescription, attributes: readonly XmlAttribute[], element: XmlElement, base: string): void {
    for (const p of attributes) {
      description.properties.push({ namespace: p.uri, local: p.local, name: p.name, value: { kind: 'literal', text: p.value }, element, base });
    }
  }

  private isNodeElement(element: XmlElement): boolean {
    if (element.uri === rdfNamespace) return element.local === 'Description';
    if (element.uri !== rdfsNamespace && element.uri !== xmlNamespace && this.nodeClasses.has(element.local)) return true;
    // an element that names a node is a node element whatever its class
    for (const a of element.attributes) {
      if (a.uri === rdfNamespace && (a.local === 'about' || a.local === 'ID' || a.local === 'nodeID')) return true;
    }
    return false;
  }

  /** Sorts an element's attributes into the RDF ones and the property attributes. */
  attributes(element: XmlElement): Attributes {
    if (element.attributes.length === 0) return noAttributes;
    const properties: XmlAttribute[] = [];
    const a: Attributes = { properties };
    for (const attribute of element.attributes) {
      let uri = attribute.uri;
      if (uri === '' && bareRdfAttributes.has(attribute.local)) {
        this.warn(element, `${attribute.local}="${attribute.value}" should be written rdf:${attribute.local}; read as that`);
        uri = rdfNamespace;
      }
      if (uri === rdfNamespace) {
        switch (attribute.local) {
          case 'about':
            a.about = attribute;
            break;
          case 'ID':
            a.id = attribute;
            break;
          case 'nodeID':
            a.nodeId = attribute;
            break;
          case 'resource':
            a.resource = attribute;
            break;
          case 'parseType':
            a.parseType = attribute;
            break;
          case 'type':
            a.type = attribute;
            break;
          // datatypes do not change how a catalogue value is read
          case 'datatype':
            break;
          default:
            this.warn(element, `${attribute.name} is not an RDF/XML attribute; ignored`);
        }
      } else if (uri === xmlNamespace) {
        if (attribute.local === 'base') a.base = attribute;
      } else {
        properties.push(attribute);
      }
    }
    return a;
  }

  /** The base URI in scope at an element: its xml:base resolved against the inherited one. */
  baseOf(a: Attributes, inherited: string, element: XmlElement): string {
    if (!a.base) return inherited;
    const base = this.resolve(a.base.value, inherited);
    if (base !== undefined) return base;
    this.warn(element, `xml:base="${a.base.value}" is not a URI; ignored`);
    return inherited;
  }

  private subjectOf(a: Attributes, base: string): string {
    if (a.about) return this.resolve(a.about.value, base) ?? a.about.value;
    if (a.id) return this.resolve(`#${a.id.value}`, base) ?? `#${a.id.value}`;
    if (a.nodeId) return blankSubject(a.nodeId.value);
    return `_:b${++this.blank}`;
  }

  private typeName(written: string, base: string): RdfName {
    const uri = this.resolve(written, base) ?? written;
    const cut = Math.max(uri.lastIndexOf('#'), uri.lastIndexOf('/'));
    return { namespace: uri.slice(0, cut + 1), local: uri.slice(cut + 1), written };
  }

  /** `ref` resolved against `base` (an absolute URL); undefined when it is no URI reference. */
  resolve(ref: string, base: string): string | undefined {
    let scope = this.resolved.get(base);
    if (!scope) {
      const hash = base.indexOf('#');
      scope = { document: hash < 0 ? base : base.slice(0, hash), refs: new Map() };
      this.resolved.set(base, scope);
    }
    // `#x` is most of a catalogue's references, each a different one: no URL parsing, no caching
    if (plainFragment.test(ref)) return scope.document + ref;
    if (scope.refs.has(ref)) return scope.refs.get(ref);
    let uri: string | undefined;
    try {
      uri = new URL(ref, base).href;
    } catch {
      uri = undefined;
    }
    scope.refs.set(ref, uri);
    return uri;
  }

  private warn(element: XmlElement, message: string): void {
    this.warnings.push({ element, message });
  }
}

// rdf:nodeID="x" is `_:x`; one that looks like a generated `_:bN` is renamed so the two never meet
function blankSubject(nodeId: string): string {
  return generatedBlank.test(nodeId) ? `_:${nodeId}_` : `_:${nodeId}`;
}
