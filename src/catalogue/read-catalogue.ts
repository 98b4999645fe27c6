import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ZodTypeAny } from 'zod';
import { VmbatchError } from '../errors/vmbatch-error.js';
import {
  baseSystemSchema,
  debianPackageSchema,
  imagePackageSchema,
  metaPackageSchema,
  tagSchema,
  tarPackageSchema,
  type BaseSystem,
  type Catalogue,
  type DebianPackage,
  type ImagePackage,
  type InstancePackage,
  type MetaPackage,
  type NodeRef,
  type SourcePosition,
  type Tag,
  type TarPackage,
  type VirtualMachine,
} from './catalogue-model.js';
import { rdfNamespace, rdfsNamespace, streamRdfXml, type RdfDescription, type RdfProperty } from './rdf-xml.js';
import { startTag, xmlNamespace, type XmlElement } from './xml-elements.js';
import { compileZodCheck, type Check } from './compiled-zod-check.js';

// RDF/XML text -> the checked catalogue model. Every problem of the file is collected with the
// element at fault and reported in one CATALOGUE_INVALID; what is read but not used becomes a
// warning. References are kept as written (NodeRef): resolving them across catalogues is the
// resolver's work, so only kb:instance by rdf:resource is checked here.

const classes = ['MetaPackage', 'TarPackage', 'ImagePackage', 'DebianPackage', 'BaseSystem', 'Tag'] as const;
type NodeClass = (typeof classes)[number];
const classNames: ReadonlySet<string> = new Set(classes);

// The kb: properties by lower-case local name (the seeds disagree on case: registryKey,
// registrykey, RegistryKey), and how messages write them.
const display = {
  name: 'kb:name',
  description: 'kb:description',
  homepage: 'kb:homepage',
  instance: 'kb:instance',
  provides: 'kb:provides',
  depends: 'kb:depends',
  tag: 'kb:tag',
  lastupdate: 'kb:lastupdate',
  registrykey: 'kb:registryKey',
  command: 'kb:command',
  virtualmachine: 'kb:VirtualMachine',
  label: 'rdfs:label',
  url: 'kb:url',
  basesystem: 'kb:basesystem',
  environ: 'kb:environ',
  mountpoint: 'kb:mountpoint',
  package: 'kb:package',
  debconf: 'kb:debconf',
  distribution: 'kb:distribution',
  short_description: 'kb:short_description',
  os: 'kb:os',
  in_port: 'kb:in_port',
  out_port: 'kb:out_port',
  service: 'kb:service',
  privilege: 'kb:privilege',
  requirements: 'kb:Requirements',
  mem_kb: 'kb:mem_kb',
} as const;
type Key = keyof typeof display;
const keyByLowerName = new Map<string, Key>([...(Object.keys(display) as Key[]).map((k): [string, Key] => [k, k]), ['lastupdated', 'lastupdate']]);

type Context = NodeClass | 'VirtualMachine' | 'Requirements';
const common: Key[] = ['label', 'lastupdate'];
const allowed: Record<Context, ReadonlySet<Key>> = {
  MetaPackage: new Set([...common, 'name', 'description', 'homepage', 'instance', 'provides', 'depends', 'tag', 'registrykey', 'command', 'virtualmachine']),
  TarPackage: new Set([...common, 'url', 'basesystem', 'depends', 'environ']),
  ImagePackage: new Set([...common, 'url', 'basesystem', 'depends', 'mountpoint']),
  // debconf (Janitor) is known but vmbatch does not install Debian packages
  DebianPackage: new Set([...common, 'package', 'basesystem', 'depends', 'debconf']),
  // distribution and short_description (Janitor) are known and not used
  BaseSystem: new Set([...common, 'name', 'provides', 'description', 'url', 'distribution', 'short_description']),
  Tag: new Set([...common, 'name', 'description']),
  VirtualMachine: new Set(['os', 'in_port', 'out_port', 'service', 'privilege', 'requirements', 'mem_kb']),
  Requirements: new Set(['mem_kb', 'in_port', 'out_port', 'privilege']),
};
const contextName: Record<Context, string> = {
  MetaPackage: 'a MetaPackage',
  TarPackage: 'a TarPackage',
  ImagePackage: 'an ImagePackage',
  DebianPackage: 'a DebianPackage',
  BaseSystem: 'a BaseSystem',
  Tag: 'a Tag',
  VirtualMachine: 'kb:VirtualMachine',
  Requirements: 'kb:Requirements',
};
const missingName: Record<'MetaPackage' | 'BaseSystem' | 'Tag', string> = {
  MetaPackage: 'kb:name is missing (a MetaPackage needs a name such as APPS/HEP/ATLAS/ATLAS-13.0.40)',
  BaseSystem: 'kb:name is missing (a BaseSystem needs a name such as Ubuntu-7.0.4)',
  Tag: 'kb:name is missing (a Tag needs a name)',
};
const schemas: Record<NodeClass, ZodTypeAny> = {
  MetaPackage: metaPackageSchema,
  TarPackage: tarPackageSchema,
  ImagePackage: imagePackageSchema,
  DebianPackage: debianPackageSchema,
  BaseSystem: baseSystemSchema,
  Tag: tagSchema,
};

const wholeNumber = /^\d+$/;
const urlSchemes: ReadonlySet<string> = new Set(['http:', 'https:', 'file:']);
// a reference that cannot be a GridFactory name: a fragment, a path, a URL, or with blanks
const notAName = /^[#./]|\s|:\/\/|^urn:/i;

/** Reads one catalogue source (RDF/XML text); throws CATALOGUE_XML_INVALID or CATALOGUE_INVALID. */
export function readCatalogue(text: string, source: string): Catalogue {
  const reading = new Reading(source);
  const catalogue: Catalogue = { source, base: '', metaPackages: [], instances: [], baseSystems: [], tags: [], warnings: [] };
  // each node is read as soon as its element is complete: the element tree is never whole in memory
  const document = streamRdfXml(text, source, { base: sourceUrl(source), nodeClasses: classNames }, (d) => reading.take(d, catalogue));
  catalogue.base = document.base;
  for (const w of document.warnings) reading.warning(w.element, w.message);
  reading.checkInstanceRefs();
  const problems = sorted(reading.problems);
  if (problems.length) throw new VmbatchError('CATALOGUE_INVALID', { source, problems });
  catalogue.warnings = sorted(reading.warnings);
  return catalogue;
}

/** The URL a catalogue source stands for: an http(s) URL as it is, a file path as file:///path. */
export function sourceUrl(source: string): string {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(source)) return new URL(source).href;
  return pathToFileURL(resolvePath(source)).href;
}

/** A line of a report, with where it points for sorting. */
interface Finding {
  line: number;
  column: number;
  text: string;
}

/** Findings in file order (cross-node checks and the RDF layer's warnings come last otherwise). */
function sorted(findings: Finding[]): string[] {
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => a.f.line - b.f.line || a.f.column - b.f.column || a.i - b.i)
    .map(({ f }) => f.text);
}

/** What a message needs of an element: where it is and its start tag (keeping no subtree alive). */
type Spot = Pick<XmlElement, 'line' | 'column' | 'document' | 'start' | 'end'>;

/** Where an earlier node was, for "first at line L, column C". */
interface Place {
  line: number;
  column: number;
}

/**
 * A node's properties with the kb: key of each (undefined for one that is not part of this kind
 * of node: it was warned about). The helpers below scan these few properties per key instead of
 * grouping them into arrays: 20,000 nodes would make 150,000 short-lived arrays.
 */
interface Fields {
  d: RdfDescription;
  context: Context;
  keys: (Key | undefined)[];
}

/** The state of one readCatalogue call: findings, what later nodes are checked against, and the readers of each kind of node. */
class Reading {
  readonly problems: Finding[] = [];
  readonly warnings: Finding[] = [];
  // what is checked across nodes: only small records, never elements (they hold whole subtrees)
  private readonly named = new Map<string, Place>();
  private readonly metaPackageNames = new Map<string, Place>();
  private readonly baseSystemNames = new Map<string, Place>();
  private readonly instanceRefs: { spot: Spot; text: string; uri: string | undefined }[] = [];

  constructor(private readonly source: string) {}

  problem(element: Spot, message: string): void {
    this.problems.push({ line: element.line, column: element.column, text: this.line(element, message) });
  }

  warning(element: Spot, message: string): void {
    this.warnings.push({ line: element.line, column: element.column, text: this.line(element, message) });
  }

  private line(element: Spot, message: string): string {
    return `${this.source}:${element.line}:${element.column} ${startTag(element)}: ${message}`;
  }

  /** Reads one description into the catalogue. */
  take(d: RdfDescription, catalogue: Catalogue): void {
    const cls = this.classOf(d);
    if (cls === undefined) return;
    if (d.named) {
      const first = this.named.get(d.subject);
      if (first) {
        this.problem(d.element, `${d.named.name}="${d.named.value}" is used again (first at line ${first.line}, column ${first.column}); each node needs an identifier of its own`);
      } else {
        this.named.set(d.subject, { line: d.element.line, column: d.element.column });
      }
    }
    const f = this.fields(d, cls);
    switch (cls) {
      case 'MetaPackage': {
        const node = this.metaPackage(f);
        if (node && this.unique(this.metaPackageNames, node.name, d.element, cls)) this.add(catalogue.metaPackages, node, cls, d);
        break;
      }
      case 'TarPackage':
      case 'ImagePackage':
      case 'DebianPackage': {
        const node = this.instance(f, cls);
        if (node) this.add(catalogue.instances, node, cls, d);
        break;
      }
      case 'BaseSystem': {
        const node = this.baseSystem(f);
        if (node && this.unique(this.baseSystemNames, node.name, d.element, cls)) this.add(catalogue.baseSystems, node, cls, d);
        break;
      }
      case 'Tag': {
        const node = this.tag(f);
        if (node) this.add(catalogue.tags, node, cls, d);
        break;
      }
    }
  }

  /**
   * Once every node of the file is known. What a reference points to is the resolver's concern
   * (GridFactory even names MetaPackages as instances); a kb:instance by rdf:resource that cannot
   * be a name and is nowhere in this file is a mistake in it.
   */
  checkInstanceRefs(): void {
    for (const r of this.instanceRefs) {
      // a catalogue node an rdf:resource can point at has rdf:about or rdf:ID, so it is in `named`
      if ((r.uri === undefined || !this.named.has(r.uri)) && notAName.test(r.text)) {
        this.problem(r.spot, `kb:instance refers to '${r.text}', which is not defined in this catalogue`);
      }
    }
  }

  /** The catalogue class of a node; undefined (with a warning where due) for any other. */
  private classOf(d: RdfDescription): NodeClass | undefined {
    let found: NodeClass | undefined;
    for (const t of d.types) {
      const known = t.namespace !== rdfNamespace && t.namespace !== rdfsNamespace && t.namespace !== xmlNamespace && classNames.has(t.local);
      if (!known) continue;
      if (found !== undefined && found !== t.local) {
        this.problem(d.element, `the node is both ${contextName[found]} and ${contextName[t.local as NodeClass]}; a node has one type`);
        return undefined;
      }
      found = t.local as NodeClass;
    }
    if (found !== undefined) return found;
    if (d.types.length) {
      this.warning(d.element, `${d.types.map((t) => t.written).join(', ')} is not a class of the catalogue (${classes.join(', ')}); ignored`);
    } else if (!d.nested) {
      // a nested node without a type is the value of its property (kb:VirtualMachine); that property reads it
      this.warning(d.element, `the node has no type (rdf:type or an element such as <kb:MetaPackage>); ignored`);
    }
    return undefined;
  }

  /** The node's properties keyed; those the context does not know become warnings. */
  private fields(d: RdfDescription, context: Context): Fields {
    const known = allowed[context];
    const keys: (Key | undefined)[] = [];
    for (const p of d.properties) {
      let key = keyOf(p);
      if (key !== undefined && !known.has(key)) key = undefined;
      if (key === undefined) this.warning(p.element, `${p.name} is not part of ${contextName[context]}; ignored`);
      keys.push(key);
    }
    return { d, context, keys };
  }

  /** Adds a node that the model's zod schema accepts; what it does not accept becomes problems. */
  private add<T>(list: T[], node: T, cls: NodeClass, d: RdfDescription): void {
    if (fastCheck(cls, node) === true) {
      list.push(node);
      return;
    }
    const checked = schemas[cls].safeParse(node);
    if (checked.success) {
      list.push(checked.data as T);
      return;
    }
    for (const issue of checked.error.issues) this.problem(d.element, `${issue.path.join('.') || cls}: ${issue.message}`);
  }

  /** Records a name; false (with a problem) when the catalogue already has it. */
  private unique(names: Map<string, Place>, name: string, element: XmlElement, cls: 'MetaPackage' | 'BaseSystem'): boolean {
    const first = names.get(name);
    if (!first) {
      names.set(name, { line: element.line, column: element.column });
      return true;
    }
    this.problem(element, `the ${cls} name '${name}' is defined again (first at line ${first.line}, column ${first.column}); a catalogue defines each ${cls} once`);
    return false;
  }

  private metaPackage(f: Fields): MetaPackage | undefined {
    const { d } = f;
    const name = this.name(f, 'MetaPackage');
    // kb:instance by rdf:resource is checked once the whole file is read
    const { properties } = d;
    for (let i = 0; i < properties.length; i++) {
      const v = properties[i]!.value;
      if (f.keys[i] !== 'instance' || v.kind !== 'ref') continue;
      const { line, column, document, start, end } = properties[i]!.element;
      this.instanceRefs.push({ spot: { line, column, document, start, end }, uri: v.uri, text: v.text });
    }
    const node: MetaPackage = {
      uri: d.subject,
      at: this.at(d.element),
      type: 'MetaPackage',
      name: name ?? '',
      instances: this.refs(f, 'instance'),
      provides: this.texts(f, 'provides'),
      depends: this.refs(f, 'depends'),
      tags: this.refs(f, 'tag'),
    };
    this.common(node, f);
    const description = this.oneText(f, 'description');
    if (description !== undefined) node.description = description;
    const homepage = this.oneText(f, 'homepage');
    if (homepage !== undefined) node.homepage = homepage;
    const command = this.oneText(f, 'command');
    if (command !== undefined) node.command = command;
    const registryKey = this.oneText(f, 'registrykey');
    if (registryKey !== undefined) node.registryKey = registryKey;
    const vm = this.one(f, 'virtualmachine');
    if (vm) {
      const virtualMachine = this.virtualMachine(vm);
      if (virtualMachine) node.virtualMachine = virtualMachine;
    }
    return name === undefined ? undefined : node;
  }

  private instance(f: Fields, cls: 'TarPackage' | 'ImagePackage' | 'DebianPackage'): InstancePackage | undefined {
    const { d } = f;
    const basesystemProperty = this.one(f, 'basesystem');
    const basesystem = basesystemProperty && this.ref(basesystemProperty);
    if (!basesystemProperty) this.problem(d.element, `kb:basesystem is missing (${contextName[cls]} needs the BaseSystem it runs on)`);
    const depends = this.refs(f, 'depends');
    if (cls === 'DebianPackage') {
      const packages = this.texts(f, 'package');
      const given = this.count(f, 'package') > 0;
      if (!given) this.problem(d.element, 'kb:package is missing (a DebianPackage needs the name of at least one Debian package)');
      if (!basesystem || !given) return undefined;
      const node: DebianPackage = { uri: d.subject, at: this.at(d.element), type: cls, packages, basesystem, depends };
      return this.common(node, f);
    }
    const urls = this.urls(f);
    const given = this.count(f, 'url') > 0;
    if (!given) {
      this.problem(d.element, cls === 'TarPackage' ? 'kb:url is missing (a TarPackage needs the URL of its tarball)' : 'kb:url is missing (an ImagePackage needs the URL of its disk image)');
    }
    if (!basesystem || !given) return undefined;
    if (cls === 'TarPackage') {
      const node: TarPackage = { uri: d.subject, at: this.at(d.element), type: cls, urls, basesystem, depends, environ: this.texts(f, 'environ') };
      return this.common(node, f);
    }
    const node = this.common<ImagePackage>({ uri: d.subject, at: this.at(d.element), type: cls, urls, basesystem, depends }, f);
    const mountpointProperty = this.one(f, 'mountpoint');
    const mountpoint = mountpointProperty && this.text(mountpointProperty);
    if (mountpoint !== undefined) {
      // the guest mounts it there as root: it must not point anywhere else
      if (mountpoint.startsWith('/') && !mountpoint.split('/').includes('..')) node.mountpoint = mountpoint;
      else this.problem(mountpointProperty!.element, `kb:mountpoint '${mountpoint}' is not an absolute path without '..'`);
    }
    return node;
  }

  private baseSystem(f: Fields): BaseSystem | undefined {
    const { d } = f;
    const name = this.name(f, 'BaseSystem');
    const node = this.common<BaseSystem>({ uri: d.subject, at: this.at(d.element), type: 'BaseSystem', name: name ?? '', provides: this.texts(f, 'provides') }, f);
    const description = this.oneText(f, 'description');
    if (description !== undefined) node.description = description;
    const url = this.oneText(f, 'url');
    if (url !== undefined) node.url = url;
    return name === undefined ? undefined : node;
  }

  private tag(f: Fields): Tag | undefined {
    const { d } = f;
    const name = this.name(f, 'Tag');
    const node = this.common<Tag>({ uri: d.subject, at: this.at(d.element), type: 'Tag', name: name ?? '' }, f);
    const description = this.oneText(f, 'description');
    if (description !== undefined) node.description = description;
    return name === undefined ? undefined : node;
  }

  /** The kb:VirtualMachine block: the properties of the node it holds. */
  private virtualMachine(p: RdfProperty): VirtualMachine | undefined {
    const vm: VirtualMachine = { inPorts: [], outPorts: [], services: [], privileges: [] };
    if (p.value.kind === 'literal') {
      // <kb:VirtualMachine/> marks a VM MetaPackage that tells nothing more
      if (p.value.text.trim() === '') return vm;
      this.problem(p.element, `kb:VirtualMachine must hold the VM's elements (kb:os, kb:service, ...), not text`);
      return undefined;
    }
    if (p.value.kind === 'ref') {
      this.problem(p.element, `kb:VirtualMachine must hold the VM's elements (kb:os, kb:service, ...), not refer to a node`);
      return undefined;
    }
    const f = this.fields(p.value.node, 'VirtualMachine');
    const os = this.oneText(f, 'os');
    if (os !== undefined) vm.os = os;
    this.ports(f, 'in_port', vm.inPorts);
    this.ports(f, 'out_port', vm.outPorts);
    vm.services = this.texts(f, 'service');
    vm.privileges = this.texts(f, 'privilege');
    let memKb = this.one(f, 'mem_kb');
    const requirements = this.one(f, 'requirements');
    if (requirements) {
      if (requirements.value.kind !== 'node') {
        this.problem(requirements.element, 'kb:Requirements must hold kb:mem_kb (and kb:in_port, kb:out_port, kb:privilege)');
      } else {
        const r = this.fields(requirements.value.node, 'Requirements');
        // the note lists ports and privileges under kb:Requirements too: they add to the VM's
        this.ports(r, 'in_port', vm.inPorts);
        this.ports(r, 'out_port', vm.outPorts);
        vm.privileges.push(...this.texts(r, 'privilege'));
        const required = this.one(r, 'mem_kb');
        if (required && memKb) this.problem(required.element, 'kb:mem_kb is given in kb:VirtualMachine and in kb:Requirements; give it once');
        memKb ??= required;
      }
    }
    if (memKb) {
      const text = this.text(memKb);
      if (text !== undefined) {
        if (!wholeNumber.test(text)) this.problem(memKb.element, `kb:mem_kb is '${text}', not a whole number of KiB`);
        else if (Number(text) === 0) this.problem(memKb.element, `kb:mem_kb is '${text}'; a VM needs more than 0 KiB`);
        else vm.memKb = Number(text);
      }
    }
    return vm;
  }

  private ports(f: Fields, key: 'in_port' | 'out_port', into: number[]): void {
    const { properties } = f.d;
    for (let i = 0; i < properties.length; i++) {
      if (f.keys[i] !== key) continue;
      const p = properties[i]!;
      const text = this.text(p);
      if (text === undefined) continue;
      const port = wholeNumber.test(text) ? Number(text) : NaN;
      if (port <= 65535) into.push(port);
      else this.problem(p.element, `${display[key]} is '${text}', not a port number (0 to 65535)`);
    }
  }

  /** kb:url values, each an http(s) or file URL or a path relative to the base in scope. */
  private urls(f: Fields): string[] {
    const urls: string[] = [];
    const { properties } = f.d;
    for (let i = 0; i < properties.length; i++) {
      if (f.keys[i] !== 'url') continue;
      const p = properties[i]!;
      // RDF style may give the URL as a resource: <kb:url rdf:resource="weka.tar.gz"/>
      const text = p.value.kind === 'ref' ? p.value.text.trim() : this.text(p);
      if (text === undefined) continue;
      if (text === '') {
        this.problem(p.element, 'kb:url is empty');
        continue;
      }
      let url: URL | undefined;
      try {
        url = new URL(text, p.base);
      } catch {
        url = undefined;
      }
      // an absolute URL keeps its scheme, a relative one takes the base's: either way it must be one vmbatch fetches from
      if (url && urlSchemes.has(url.protocol)) urls.push(url.href);
      else this.problem(p.element, `kb:url '${text}' is not an http(s) or file URL, nor a path relative to the catalogue`);
    }
    return urls;
  }

  private at(element: XmlElement): SourcePosition {
    return { source: this.source, line: element.line, column: element.column, element: startTag(element) };
  }

  /** Sets what every node may have (rdfs:label, kb:lastupdate); returns the node. */
  private common<T extends { label?: string; lastUpdate?: string }>(node: T, f: Fields): T {
    const label = this.oneText(f, 'label');
    if (label !== undefined) node.label = label;
    const lastUpdate = this.oneText(f, 'lastupdate');
    if (lastUpdate !== undefined) node.lastUpdate = lastUpdate;
    return node;
  }

  private name(f: Fields, cls: 'MetaPackage' | 'BaseSystem' | 'Tag'): string | undefined {
    const count = this.count(f, 'name');
    if (count === 0) {
      this.problem(f.d.element, missingName[cls]);
      return undefined;
    }
    if (count > 1) {
      const written: string[] = [];
      f.d.properties.forEach((p, i) => {
        if (f.keys[i] === 'name') written.push(p.value.kind === 'literal' ? `'${p.value.text.trim()}'` : `'${p.value.kind}'`);
      });
      this.problem(f.d.element, `kb:name is given ${times(count)} (${written.join(', then ')}); a node has one name`);
      return undefined;
    }
    return this.text(this.first(f, 'name')!);
  }

  private count(f: Fields, key: Key): number {
    let count = 0;
    for (const k of f.keys) if (k === key) count++;
    return count;
  }

  private first(f: Fields, key: Key): RdfProperty | undefined {
    const i = f.keys.indexOf(key);
    return i < 0 ? undefined : f.d.properties[i];
  }

  /** The one property of a key, or undefined; a problem when there are several. */
  private one(f: Fields, key: Key): RdfProperty | undefined {
    const count = this.count(f, key);
    if (count > 1) this.problem(f.d.element, `${display[key]} is given ${times(count)}; ${contextName[f.context]} has one`);
    return count === 0 ? undefined : this.first(f, key);
  }

  private oneText(f: Fields, key: Key): string | undefined {
    const p = this.one(f, key);
    return p && this.text(p);
  }

  /** A literal's text, trimmed; a problem when it is empty or not a literal. */
  private text(p: RdfProperty): string | undefined {
    if (p.value.kind === 'ref') {
      this.problem(p.element, `${display[keyOf(p)!]} must be text, not a reference (rdf:resource="${p.value.text}")`);
      return undefined;
    }
    if (p.value.kind === 'node') {
      this.problem(p.element, `${display[keyOf(p)!]} must be text, not a node`);
      return undefined;
    }
    const text = p.value.text.trim();
    if (text === '') {
      this.problem(p.element, `${display[keyOf(p)!]} is empty`);
      return undefined;
    }
    return text;
  }

  private texts(f: Fields, key: Key): string[] {
    return this.collect(f, key, (p) => this.text(p));
  }

  /** What `read` makes of every property `key` of a node, in order, leaving out what it refused. */
  private collect<T>(f: Fields, key: Key, read: (p: RdfProperty) => T | undefined): T[] {
    const out: T[] = [];
    const { properties } = f.d;
    for (let i = 0; i < properties.length; i++) {
      if (f.keys[i] !== key) continue;
      const value = read(properties[i]!);
      if (value !== undefined) out.push(value);
    }
    return out;
  }

  /** A reference: by rdf:resource, by a node written inline, or by name (literal text). */
  private ref(p: RdfProperty): NodeRef | undefined {
    const v = p.value;
    if (v.kind === 'ref') {
      if (v.text.trim() === '') {
        this.problem(p.element, `${display[keyOf(p)!]} has an empty rdf:resource (give the rdf:about of a node, or its name)`);
        return undefined;
      }
      return v.uri === undefined ? { text: v.text } : { uri: v.uri, text: v.text };
    }
    if (v.kind === 'node') {
      if (v.node.types.length === 0) {
        this.problem(p.element, `${display[keyOf(p)!]} holds no node (refer to one with rdf:resource, by name, or write one inline such as <kb:TarPackage rdf:about="...">)`);
        return undefined;
      }
      return { uri: v.node.subject, text: v.node.named?.value ?? v.node.subject };
    }
    const text = this.text(p);
    return text === undefined ? undefined : { text };
  }

  private refs(f: Fields, key: Key): NodeRef[] {
    return this.collect(f, key, (p) => this.ref(p));
  }
}

function times(n: number): string {
  return n === 2 ? 'twice' : `${n} times`;
}

// kb: by local name in any namespace but rdf:, rdfs: (except rdfs:label) and xml:
const keyCache = new Map<string, Key | null>();
function keyOf(p: RdfProperty): Key | undefined {
  if (p.namespace === rdfNamespace || p.namespace === xmlNamespace) return undefined;
  if (p.namespace === rdfsNamespace) return p.local === 'label' ? 'label' : undefined;
  let key = keyCache.get(p.local);
  if (key === undefined) {
    key = keyByLowerName.get(p.local.toLowerCase()) ?? null;
    // local names come from files: bound the cache so odd vocabularies cannot grow it without end
    if (keyCache.size < 1000) keyCache.set(p.local, key);
  }
  return key ?? undefined;
}

// The model's schemas, compiled once into plain checks (compiled-zod-check.ts): zod's safeParse
// would cost a third of the load time; a node that fails goes through zod, which words the problem.
const fastChecks: Partial<Record<NodeClass, Check>> = {};
for (const cls of classes) {
  const check = compileZodCheck(schemas[cls]);
  if (check) fastChecks[cls] = check;
}

/** True when zod accepts `node` as it is; undefined when only zod can tell. */
function fastCheck(cls: NodeClass, node: unknown): boolean | undefined {
  const check = fastChecks[cls];
  return check === undefined ? undefined : check(node);
}

/** True when `node` is a catalogue node of `cls` exactly as the model's schema has it (a parse kept on disk is checked with this). */
export function isCatalogueNode(cls: string, node: unknown): boolean {
  if (!classNames.has(cls) || (node as { type?: unknown } | null)?.type !== cls) return false;
  // the compiled check first: zod would take a third of the time a whole parse does
  return fastCheck(cls as NodeClass, node) ?? schemas[cls as NodeClass].safeParse(node).success;
}
