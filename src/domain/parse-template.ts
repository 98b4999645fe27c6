import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { closestName } from './did-you-mean.js';
import { shareProblems } from '../share/template-shares.js';
import { kibOf, templateSizeOf, type TemplateSize } from './template-size.js';
import { retiredVbTags, vbTags, type VbAttrs, type VbTagName } from './vb-tags.js';
import { childNames, children, parseXml, textOf, type XmlElement } from './xml-tree.js';

/** One `<disk>` of a template with its vb* settings. */
export interface TemplateDisk {
  /** 1-based position among the template's disks */
  index: number;
  device: string;
  target: string;
  bus: string | undefined;
  readonly: boolean;
  sourceFile: string | undefined;
  driverType: string | undefined;
  vbdisksource: VbAttrs<'vbdisksource'> | undefined;
  vbcheckhash: VbAttrs<'vbcheckhash'> | undefined;
  vbpreparecdrom: VbAttrs<'vbpreparecdrom'> | undefined;
  /** the disk whose image a submitter may replace with vbuserimage */
  userImage: boolean;
}

/** The vmbatch part of a template: everything <vbconfig> and the vb* device tags say. */
export interface VbConfig {
  prepareMethod: 'CDROM' | 'DISK' | 'ROOTSSH';
  hypervisor: 'XEN3' | 'XEN4' | 'KVM' | 'QEMU';
  jobPath: string | undefined;
  readiness: VbAttrs<'vbreadiness'>;
  tarFiles: VbAttrs<'vbtarfile'>[];
  partitions: VbAttrs<'vbdisk'>[];
  /** <vbsshchannel/>: SSH reaches the guest over a virtio-serial port (a per-job unix socket on the host) */
  sshChannel: boolean;
  remoteshell: VbAttrs<'vbremoteshell'>;
  /** names of the catalogue VirtualMachine MetaPackages this template realises (<vbcatalogue vm=...>) */
  catalogueVms: string[];
  /** host directories the guest sees (<vbshare>), in template order */
  shares: VbAttrs<'vbshare'>[];
  /** <vbwarmstart/>: jobs restore a saved, booted copy of the guest (src/warm); its pool and who builds the state */
  warmStart: WarmStartSettings | undefined;
}

/** What <vbwarmstart> says: the pool's size and idle limit, and who builds the saved state. */
export interface WarmStartSettings {
  pool: number;
  idle: number;
  build: 'admin' | 'auto';
}

/** A validated domain template: the libvirt tree (vb* tags still in it) and what they say. */
export interface DomainTemplate {
  file: string;
  domainType: string;
  /** the guest sizes jobs may ask for: defaults from <vcpu> and <memory>, limits from <vbsize> */
  size: TemplateSize;
  tree: XmlElement;
  vb: VbConfig;
  disks: TemplateDisk[];
}

const hypervisorDomainType: Record<VbConfig['hypervisor'], string> = { XEN3: 'xen', XEN4: 'xen', KVM: 'kvm', QEMU: 'qemu' };

/** Reads and validates a template file; every problem is reported at once, with its element path. */
export async function loadTemplate(file: string): Promise<DomainTemplate> {
  return parseTemplate(readFileSync(file, 'utf8'), file);
}

/** Validates template text (see loadTemplate). */
export async function parseTemplate(text: string, file: string): Promise<DomainTemplate> {
  const parsed = await parseXml(text, { attributeNames: (element) => (element in vbTags ? attributeNames(vbTags[element as VbTagName].schema) : []) });
  if ('problems' in parsed) {
    throw new VmbatchError('DOMAIN_XML_MALFORMED', { file, problems: parsed.problems.map((p) => `line ${p.line}, column ${p.column}: ${p.reason}`) });
  }
  const problems: string[] = [];
  if (parsed.root !== 'domain') {
    throw new VmbatchError('DOMAIN_TEMPLATE_INVALID', { file, problems: [`the root element is <${parsed.root}>, not <domain>`] });
  }
  const domain = parsed.element;
  const validated = new Map<XmlElement, unknown>();
  checkVbTags(domain, 'domain', 'domain', problems, validated);

  const attrsOf = <T extends VbTagName>(el: XmlElement | undefined): VbAttrs<T> | undefined => (el ? (validated.get(el) as { attrs: VbAttrs<T> } | undefined)?.attrs : undefined);
  const textValue = (el: XmlElement | undefined): string | undefined => (el ? (validated.get(el) as { text: string } | undefined)?.text : undefined);

  const domainType = domain.$?.type ?? '';
  if (!domainType) problems.push("domain: attribute type is required (e.g. <domain type='qemu'>)");
  const memoryEl = children(domain, 'memory')[0];
  const memoryKiB = memoryEl ? kibOf(textOf(memoryEl), memoryEl.$?.unit) : undefined;
  if (!memoryEl) problems.push('domain: <memory> is required');
  else if (memoryKiB === undefined)
    problems.push(`domain: <memory unit='${memoryEl.$?.unit ?? 'KiB'}'>${textOf(memoryEl)}</memory> is not a size (a whole number; unit b, KiB, MiB, GiB, TiB, KB, MB, GB or TB)`);
  const devices = children(domain, 'devices')[0];
  if (!devices) problems.push('domain: <devices> is required');

  const vbconfig = children(domain, 'vbconfig');
  if (vbconfig.length === 0) problems.push('domain: <vbconfig> is required (with at least <vbpreparemethod> and <vbhypervisor>)');
  if (vbconfig.length > 1) problems.push('domain: <vbconfig> may appear only once');
  const config = vbconfig[0] ?? {};
  const one = (name: string) => {
    const list = children(config, name);
    if (list.length > 1) problems.push(`domain/vbconfig: <${name}> may appear only once`);
    return list[0];
  };
  const methodEl = one('vbpreparemethod');
  const hypervisorEl = one('vbhypervisor');
  if (vbconfig.length && !methodEl) problems.push('domain/vbconfig: <vbpreparemethod> is required (CDROM, DISK or ROOTSSH)');
  if (vbconfig.length && !hypervisorEl) problems.push('domain/vbconfig: <vbhypervisor> is required (XEN3, XEN4, KVM or QEMU)');
  const prepareMethod = textValue(methodEl) as VbConfig['prepareMethod'] | undefined;
  const hypervisor = textValue(hypervisorEl) as VbConfig['hypervisor'] | undefined;
  if (hypervisor && domainType && hypervisorDomainType[hypervisor] !== domainType) {
    problems.push(`domain: type='${domainType}' does not match <vbhypervisor>${hypervisor}</vbhypervisor>, which needs type='${hypervisorDomainType[hypervisor]}'`);
  }

  const disks: TemplateDisk[] = (devices ? children(devices, 'disk') : []).map((disk, i) => {
    const driver = children(disk, 'driver')[0];
    const source = children(disk, 'source')[0];
    return {
      index: i + 1,
      device: disk.$?.device ?? 'disk',
      target: children(disk, 'target')[0]?.$?.dev ?? `disk[${i + 1}]`,
      bus: children(disk, 'target')[0]?.$?.bus,
      readonly: children(disk, 'readonly').length > 0,
      sourceFile: source?.$?.file,
      driverType: driver?.$?.type,
      vbdisksource: attrsOf<'vbdisksource'>(children(disk, 'vbdisksource')[0]),
      vbcheckhash: attrsOf<'vbcheckhash'>(children(disk, 'vbcheckhash')[0]),
      vbpreparecdrom: attrsOf<'vbpreparecdrom'>(children(disk, 'vbpreparecdrom')[0]),
      userImage: children(disk, 'vbuserimage').length > 0,
    };
  });
  const diskElements = devices ? children(devices, 'disk') : [];
  for (const disk of disks) {
    const where = `domain/devices/disk[${disk.index}]`;
    const has = (tag: string) => children(diskElements[disk.index - 1]!, tag).length > 0;
    if (disk.vbcheckhash && !disk.vbdisksource?.copy_method) problems.push(`${where}: <vbcheckhash> needs a <vbdisksource copy_method=...> on the same disk`);
    if (disk.vbpreparecdrom && disk.vbdisksource) problems.push(`${where}: <vbpreparecdrom> and <vbdisksource> exclude each other`);
    if (!has('vbpreparecdrom') && !has('vbdisksource') && !disk.sourceFile) problems.push(`${where}: needs <source file=...>, <vbdisksource> or <vbpreparecdrom>`);
    if (disk.userImage && (disk.vbpreparecdrom || disk.vbdisksource?.create))
      problems.push(`${where}: <vbuserimage/> marks a disk with an image; it cannot stand with <vbpreparecdrom> or a created disk`);
  }
  if (disks.filter((d) => d.userImage).length > 1) problems.push('domain/devices: <vbuserimage/> may mark only one disk');
  const cdroms = diskElements.filter((d) => children(d, 'vbpreparecdrom').length > 0);
  if (prepareMethod === 'CDROM' && cdroms.length !== 1) {
    problems.push(`domain/devices: CDROM contextualization needs exactly one <disk> with <vbpreparecdrom>, found ${cdroms.length}`);
  }
  const partitions = devices
    ? children(devices, 'vbdisks')
        .flatMap((d) => children(d, 'vbdisk'))
        .map((d) => attrsOf<'vbdisk'>(d)!)
        .filter(Boolean)
    : [];
  const jobPath = textValue(one('vbjobpath'));
  if (prepareMethod === 'DISK') {
    if (partitions.length === 0) problems.push('domain/devices: DISK contextualization needs <vbdisks> with at least one <vbdisk>');
    if (!jobPath) problems.push('domain/vbconfig: DISK contextualization needs <vbjobpath>');
    for (const p of partitions) {
      if (!p.partition.startsWith(p.dev) || !/\d+$/.test(p.partition))
        problems.push(`domain/devices/vbdisks: partition='${p.partition}' is not a numbered partition of dev='${p.dev}' (like ${p.dev}2)`);
      if (p.name !== 'rootdisk' && p.name !== 'jobdisk') problems.push(`domain/devices/vbdisks: name='${p.name}' must be rootdisk (context and init scripts) or jobdisk (the job script)`);
    }
    if (partitions.length && !partitions.some((p) => p.name === 'rootdisk')) problems.push("domain/devices/vbdisks: DISK contextualization needs a <vbdisk name='rootdisk'>");
  }
  const sshChannels = devices ? children(devices, 'vbsshchannel') : [];
  if (sshChannels.length > 1) problems.push('domain/devices: <vbsshchannel> may appear only once');
  if (sshChannels.length && (hypervisor === 'XEN3' || hypervisor === 'XEN4')) problems.push('domain/devices: <vbsshchannel> needs QEMU or KVM (a virtio-serial port whose host side is a unix socket)');
  if (prepareMethod && prepareMethod !== 'CDROM' && cdroms.length > 0) problems.push(`domain/devices: <vbpreparecdrom> is for CDROM contextualization; ${prepareMethod} has no context volume`);
  const consoleMode = attrsOf<'vbremoteshell'>(one('vbremoteshell'))?.mode === 'console';
  if (consoleMode && (hypervisor === 'XEN3' || hypervisor === 'XEN4')) problems.push("domain/vbconfig/vbremoteshell: mode='console' needs QEMU or KVM (a second serial port as a socket)");
  if (prepareMethod === 'ROOTSSH' && sshChannels.length === 0) problems.push('domain/devices: ROOTSSH contextualization needs <vbsshchannel/> (the host logs in to the guest through it)');

  const shares = children(config, 'vbshare')
    .map((e) => attrsOf<'vbshare'>(e))
    .filter((a): a is VbAttrs<'vbshare'> => a !== undefined);
  problems.push(...shareProblems(shares, { hypervisor, sshRemoteshell: sshChannels.length > 0 && !consoleMode }));

  const warmStartEls = children(config, 'vbwarmstart');
  // a bare <vbwarmstart/> has no attributes for attrsOf to find: its defaults then
  const warmStart = warmStartEls.length ? (attrsOf<'vbwarmstart'>(warmStartEls[0]) ?? vbTags.vbwarmstart.schema.parse({ text: '', attrs: {} }).attrs) : undefined;
  if (warmStart) problems.push(...warmStartProblems({ prepareMethod, hypervisor, cdroms: disks.filter((d) => d.vbpreparecdrom), shares, domain }));

  // a <vbsize> with bad attributes was reported above (no limits from it are checked then)
  const size = templateSizeOf(domain, attrsOf<'vbsize'>(one('vbsize')), problems);

  if (problems.length) throw new VmbatchError('DOMAIN_TEMPLATE_INVALID', { file, problems });
  const readinessEl = one('vbreadiness');
  return {
    file,
    domainType,
    size,
    tree: domain,
    disks,
    vb: {
      prepareMethod: prepareMethod!,
      hypervisor: hypervisor!,
      jobPath,
      readiness: attrsOf<'vbreadiness'>(readinessEl) ?? vbTags.vbreadiness.schema.parse({ text: '', attrs: {} }).attrs,
      tarFiles: children(config, 'vbtarfiles')
        .flatMap((t) => children(t, 'vbtarfile'))
        .map((t) => attrsOf<'vbtarfile'>(t)!)
        .filter(Boolean),
      partitions,
      sshChannel: sshChannels.length > 0,
      remoteshell: attrsOf<'vbremoteshell'>(one('vbremoteshell')) ?? vbTags.vbremoteshell.schema.parse({ text: '', attrs: {} }).attrs,
      catalogueVms: children(config, 'vbcatalogue')
        .map((c) => attrsOf<'vbcatalogue'>(c)?.vm)
        .filter((v): v is string => v !== undefined),
      shares,
      warmStart,
    },
  };
}

// What a saved, booted copy of the guest cannot have: QEMU cannot save a guest with a virtiofs
// device (vhost-user-fs is not migratable), and the guest learns that it is the warm copy from
// its boot line, which the host writes only for a kernel it boots directly.
function warmStartProblems(t: { prepareMethod: string | undefined; hypervisor: string | undefined; cdroms: TemplateDisk[]; shares: VbAttrs<'vbshare'>[]; domain: XmlElement }): string[] {
  const where = 'domain/vbconfig/vbwarmstart';
  const problems: string[] = [];
  if (t.hypervisor && t.hypervisor !== 'QEMU' && t.hypervisor !== 'KVM') problems.push(`${where}: warm start needs QEMU or KVM (a saved QEMU state), not ${t.hypervisor}`);
  if (t.prepareMethod && t.prepareMethod !== 'CDROM')
    problems.push(`${where}: warm start hands the job its context on the restored guest's CD-ROM; ${t.prepareMethod} contextualization cannot (use CDROM)`);
  for (const share of t.shares) {
    if (share.method !== 'stage')
      problems.push(
        `${where}: <vbshare source='${share.source}'> is shared over virtiofs, which QEMU cannot save in a guest's state; stage it (method='stage', the working directory only) or leave warm start off`,
      );
  }
  const os = children(t.domain, 'os')[0];
  if (!os || children(os, 'kernel').length === 0) problems.push(`${where}: the guest must boot a kernel directly (<os><kernel>): its boot line tells the guest it is the warm copy`);
  return problems;
}

// Walks the whole tree: every vb* element must be a known tag, in its place, with valid
// attributes; results are kept per element for the extraction above.
function checkVbTags(element: XmlElement, name: string, path: string, problems: string[], validated: Map<XmlElement, unknown>): void {
  for (const child of childNames(element)) {
    const list = children(element, child);
    list.forEach((el, i) => {
      const childPath = `${path}/${child}${list.length > 1 ? `[${i + 1}]` : ''}`;
      if (child.toLowerCase().startsWith('vb')) {
        const retired = retiredVbTags[child];
        if (retired) {
          problems.push(`${childPath}: <${child}> ${retired}`);
          return;
        }
        const tag = vbTags[child as VbTagName];
        if (!tag) {
          const allowed = Object.entries(vbTags)
            .filter(([, t]) => t.parent === name)
            .map(([n]) => n);
          problems.push(`${childPath}: unknown tag <${child}>` + (allowed.length ? ` (vb* tags allowed in <${name}>: ${allowed.join(', ')})` : ` (no vb* tags belong in <${name}>)`));
          return;
        }
        if (tag.parent !== name) {
          problems.push(`${childPath}: <${child}> belongs in <${tag.parent}>, not in <${name}>`);
          return;
        }
        const result = (tag.schema as z.ZodTypeAny).safeParse({ text: textOf(el), attrs: el.$ ?? {} });
        if (result.success) validated.set(el, result.data);
        else for (const issue of result.error.issues) problems.push(`${childPath}: ${describeIssue(issue, tag.schema)}`);
      }
      checkVbTags(el, child, childPath, problems, validated);
    });
  }
}

function describeIssue(issue: z.ZodIssue, schema: z.ZodTypeAny): string {
  const [part, attr] = issue.path.map(String);
  const allowed = attributeNames(schema);
  if (issue.code === 'unrecognized_keys') {
    const suggestions = issue.keys.flatMap((k) => {
      const close = closestName(k, allowed);
      return close ? [issue.keys.length > 1 ? `${close} for ${k}` : close] : [];
    });
    return (
      `unknown attribute(s) ${issue.keys.join(', ')}` +
      (allowed.length ? ` (allowed: ${allowed.join(', ')})` : ' (this tag takes no attributes)') +
      (suggestions.length ? `; did you mean ${suggestions.join(', ')}?` : '')
    );
  }
  if (part === 'text') {
    if (issue.code === 'invalid_enum_value') return `text '${String(issue.received)}' must be one of ${issue.options.join(', ')}`;
    return `text ${issue.message}`;
  }
  if (attr === undefined) return issue.message;
  if (issue.code === 'invalid_type' && issue.received === 'undefined') return `attribute ${attr} is required`;
  if (issue.code === 'invalid_enum_value') return `attribute ${attr}='${String(issue.received)}' must be one of ${issue.options.join(', ')}`;
  return `attribute ${attr} ${issue.message}`;
}

function attributeNames(schema: z.ZodTypeAny): string[] {
  const attrs = ((schema as z.AnyZodObject).shape as z.ZodRawShape | undefined)?.attrs;
  let inner: z.ZodTypeAny | undefined = attrs;
  while (inner && !(inner instanceof z.ZodObject)) inner = (inner._def as { schema?: z.ZodTypeAny }).schema;
  return inner ? Object.keys((inner as z.AnyZodObject).shape as z.ZodRawShape) : [];
}
