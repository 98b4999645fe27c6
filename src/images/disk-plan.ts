import { VmbatchError } from '../errors/vmbatch-error.js';
import type { DomainTemplate } from '../domain/parse-template.js';
import { overlayPath, type JobPaths } from '../state/job-paths.js';

/** How one disk of the template is provided to the job's guest. */
export type DiskPlan =
  | { kind: 'overlay'; index: number; target: string; base: string; baseFormat: string; file: string; format: 'qcow2' }
  | { kind: 'in-place'; index: number; target: string; file: string; format: string }
  | { kind: 'context'; index: number; target: string; file: string; format: 'raw' };

/**
 * Decides each disk: the context volume gets the job's ISO, read-only disks are used in place,
 * writable ones get a per-job qcow2 copy-on-write overlay so the base image never changes.
 */
export function planDisks(template: DomainTemplate, paths: JobPaths): DiskPlan[] {
  if (template.vb.prepareMethod !== 'CDROM') throw new VmbatchError('METHOD_UNSUPPORTED', { file: template.file, method: template.vb.prepareMethod });
  return template.disks.map((disk): DiskPlan => {
    const { index, target } = disk;
    if (disk.vbpreparecdrom) return { kind: 'context', index, target, file: paths.isoFile, format: 'raw' };
    if (disk.vbdisksource) {
      const what = disk.vbdisksource.create
        ? `<vbdisksource create='${disk.vbdisksource.create}'> (created disks)`
        : `<vbdisksource copy_method='${disk.vbdisksource.copy_method}'> (downloaded images)`;
      throw new VmbatchError('DISK_SOURCE_UNSUPPORTED', { file: template.file, target, what });
    }
    const base = disk.sourceFile!;
    if (disk.readonly) return { kind: 'in-place', index, target, file: base, format: disk.driverType ?? 'raw' };
    if (template.vb.hypervisor !== 'QEMU' && template.vb.hypervisor !== 'KVM') {
      throw new VmbatchError('DISK_SOURCE_UNSUPPORTED', {
        file: template.file,
        target,
        what: `a writable disk on ${template.vb.hypervisor} (copy-on-write there needs VHD or QCOW overlays)`,
      });
    }
    return { kind: 'overlay', index, target, base, baseFormat: disk.driverType ?? 'raw', file: overlayPath(paths, target), format: 'qcow2' };
  });
}
