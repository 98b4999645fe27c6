import { VmbatchError } from '../errors/vmbatch-error.js';
import type { DomainTemplate, TemplateDisk } from '../domain/parse-template.js';
import { diskFilePath, type JobPaths } from '../state/job-paths.js';
import { entryKey, entryPaths } from './cache-entry.js';
import { cowFormatOf, defaultCreatedFormat, driverTypeOf, qemuFormatOf, type CowFormat, type CreatedFormat } from './disk-formats.js';
import { hashSpecOf } from './hash-spec.js';
import { resolveTemplateSource, sourceIdentity, type ImageSource } from './image-source.js';

/** Where a disk's data comes from. */
export type DiskBase =
  /** a file on this node (<source file=...>) */
  | { kind: 'file'; path: string }
  /** fetched once per image into the shared cache (copy_method='shared') */
  | { kind: 'shared'; source: ImageSource; cacheFile: string }
  /** fetched for this job alone into its directory (copy_method='download') */
  | { kind: 'download'; source: ImageSource }
  /** an empty disk made for this job (create='always') or once and shared (create='once') */
  | { kind: 'empty'; sizeMiB: number; format: CreatedFormat; once: string | undefined };

/** How one disk of the template is provided to the job's guest. */
export type DiskPlan =
  | { kind: 'context'; index: number; target: string; file: string; format: 'raw' }
  | {
      kind: 'disk';
      index: number;
      target: string;
      base: DiskBase;
      /** qemu-img's name of the base's format */
      baseFormat: string;
      /** direct: the guest uses the base file itself; overlay: a per-job copy-on-write file over it */
      access: 'direct' | 'overlay';
      cow: CowFormat | undefined;
      /** the file the guest opens and its <driver type> */
      file: string;
      format: string;
    };

/** What planning the disks needs beyond the template. */
export interface DiskPlanInput {
  paths: JobPaths;
  cacheDir: string;
  siteBase: string | undefined;
  /** a submitter's image (already checked against the policy) and how it is fetched */
  userImage: { source: ImageSource; copyMethod: 'shared' | 'download' } | undefined;
}

/**
 * Decides each disk, as plain values: the context volume gets the job's ISO; read-only disks
 * are used in place; writable ones get a per-job copy-on-write overlay in the hypervisor's
 * format, so no base image ever changes; fetched images come through the shared cache or,
 * per job, into the job's directory; created disks are made per job or once.
 */
export function planDisks(template: DomainTemplate, input: DiskPlanInput): DiskPlan[] {
  if (input.userImage && !template.disks.some((d) => d.userImage)) {
    throw new VmbatchError('USER_IMAGE_REFUSED', {
      image: input.userImage.source.url,
      reason: `the domain template ${template.file} has no disk a submitter may replace (<vbuserimage/>)`,
    });
  }
  const hypervisor = template.vb.hypervisor;
  return template.disks.map((disk): DiskPlan => {
    const { index, target } = disk;
    if (disk.vbpreparecdrom) return { kind: 'context', index, target, file: input.paths.isoFile, format: 'raw' };
    const { base, baseFormat } = baseOf(disk, template, input);
    // a created='once' disk is shared, so every job writes to its own overlay of it
    const overlay = (base.kind === 'empty' && base.once !== undefined) || (!disk.readonly && (base.kind === 'file' || base.kind === 'shared'));
    if (overlay) {
      const cow = cowFormatOf[hypervisor];
      if (cow === 'vhd' && baseFormat !== 'vpc' && baseFormat !== 'raw') {
        throw new VmbatchError('FORMAT_UNSUPPORTED', { target, what: `a VHD copy-on-write disk (Xen 4) needs a VHD or raw base, not ${baseFormat}` });
      }
      return { kind: 'disk', index, target, base, baseFormat, access: 'overlay', cow, file: diskFilePath(input.paths, target, cow), format: cow };
    }
    const file = base.kind === 'file' ? base.path : base.kind === 'shared' ? base.cacheFile : diskFilePath(input.paths, target, base.kind === 'download' ? 'img' : extensionOf(baseFormat));
    // a local file keeps the driver type the admin wrote; other files get the one their format needs
    const format = base.kind === 'file' && disk.driverType ? disk.driverType : driverTypeOf(baseFormat, hypervisor);
    return { kind: 'disk', index, target, base, baseFormat, access: 'direct', cow: undefined, file, format };
  });
}

function baseOf(disk: TemplateDisk, template: DomainTemplate, input: DiskPlanInput): { base: DiskBase; baseFormat: string } {
  const fetched = (source: ImageSource, copyMethod: 'shared' | 'download'): DiskBase =>
    copyMethod === 'shared' ? { kind: 'shared', source, cacheFile: entryPaths(input.cacheDir, 'download', entryKey(sourceIdentity(source))).data } : { kind: 'download', source };
  const declared = qemuFormatOf(disk.driverType);
  if (disk.userImage && input.userImage) return { base: fetched(input.userImage.source, input.userImage.copyMethod), baseFormat: declared };
  const vb = disk.vbdisksource;
  if (vb?.create) {
    const format = vb.format ?? defaultCreatedFormat[template.vb.hypervisor];
    return { base: { kind: 'empty', sizeMiB: vb.size!, format, once: vb.create === 'once' ? vb.source : undefined }, baseFormat: qemuFormatOf(format) };
  }
  if (vb?.copy_method) {
    const source: ImageSource = {
      url: resolveTemplateSource(vb.source, input.siteBase),
      hash: disk.vbcheckhash ? hashSpecOf(disk.vbcheckhash) : undefined,
      origin: 'template',
      maxBytes: undefined,
      allowedPrefixes: undefined,
    };
    return { base: fetched(source, vb.copy_method), baseFormat: declared };
  }
  return { base: { kind: 'file', path: disk.sourceFile! }, baseFormat: declared };
}

function extensionOf(qemuFormat: string): string {
  return qemuFormat === 'vpc' ? 'vhd' : qemuFormat;
}
