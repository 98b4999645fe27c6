import { chmodSync, existsSync } from 'node:fs';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { runTool } from '../exec/run-tool.js';
import type { DiskPlan } from './disk-plan.js';

/** Creates the per-job copy-on-write overlays of a disk plan (qemu-img; the base is never written). */
export async function createOverlays(disks: DiskPlan[]): Promise<void> {
  for (const disk of disks) {
    if (disk.kind === 'context') continue;
    const base = disk.kind === 'overlay' ? disk.base : disk.file;
    if (!existsSync(base)) throw new VmbatchError('BASE_IMAGE_MISSING', { target: disk.target, path: base });
    if (disk.kind !== 'overlay') continue;
    await runTool(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', disk.baseFormat, '-b', disk.base, disk.file]);
    // the job's data: not for other users of the node
    chmodSync(disk.file, 0o600);
  }
}
