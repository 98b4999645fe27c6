import { chmodSync } from 'node:fs';
import { runTool } from '../exec/run-tool.js';
import type { VbConfig } from '../domain/parse-template.js';

/** A hypervisor a template is written for. */
export type Hypervisor = VbConfig['hypervisor'];

/** Copy-on-write formats: qcow2 (QEMU/KVM), QCOW version 1 (Xen 3 blktap), VHD (Xen 4 blktap2). */
export type CowFormat = 'qcow2' | 'qcow' | 'vhd';

/** The copy-on-write format each hypervisor reads. */
export const cowFormatOf: Record<Hypervisor, CowFormat> = { QEMU: 'qcow2', KVM: 'qcow2', XEN3: 'qcow', XEN4: 'vhd' };

/** Formats a created disk may have (<vbdisksource format=...>). */
export const createdFormats = ['raw', 'qcow2', 'qcow', 'vhd', 'vpc', 'vhd-util-vhd'] as const;
/** A created disk's format. */
export type CreatedFormat = (typeof createdFormats)[number];

/** The format a created disk gets when the template names none. */
export const defaultCreatedFormat: Record<Hypervisor, CreatedFormat> = { QEMU: 'qcow2', KVM: 'qcow2', XEN3: 'qcow', XEN4: 'vhd' };

/** qemu-img's format name for a libvirt <driver type> (Xen's tap 'aio' is raw, 'vhd' is qemu's 'vpc'). */
export function qemuFormatOf(driverType: string | undefined): string {
  if (driverType === undefined || driverType === 'aio') return 'raw';
  if (driverType === 'vhd' || driverType === 'vhd-util-vhd') return 'vpc';
  return driverType;
}

/** The <driver type> libvirt needs for a qemu-img format on a hypervisor. */
export function driverTypeOf(qemuFormat: string, hypervisor: Hypervisor): string {
  const xen = hypervisor === 'XEN3' || hypervisor === 'XEN4';
  if (qemuFormat === 'vpc') return xen ? 'vhd' : 'vpc';
  if (qemuFormat === 'raw' && xen) return 'aio';
  return qemuFormat;
}

/**
 * Makes `file` a copy-on-write overlay of `base` in the hypervisor's format. qemu-img never
 * opens the base (`-u` with the virtual size from the checked header): root does not read an
 * image on the way, and the cost does not depend on the base's size.
 */
export async function createCowOverlay(input: { cow: CowFormat; base: string; baseFormat: string; virtualSize: number; file: string }): Promise<void> {
  const { cow, base, baseFormat, file } = input;
  if (cow === 'vhd') {
    // blktap2 VHD differencing disks are vhd-util's; qemu-img's vpc driver has no backing files
    await runTool(['vhd-util', 'snapshot', '-n', file, '-p', base, ...(baseFormat === 'vpc' ? [] : ['-m'])]);
  } else {
    await runTool(['qemu-img', 'create', '-q', '-u', '-f', cow, '-F', baseFormat, '-b', base, file, String(input.virtualSize)]);
  }
  // the job's data: not for other users of the node
  chmodSync(file, 0o600);
}

/** Creates an empty disk of `sizeMiB` (sparse where the format allows). */
export async function createEmptyDisk(input: { format: CreatedFormat; file: string; sizeMiB: number; mode: number }): Promise<void> {
  const { format, file, sizeMiB } = input;
  if (format === 'vhd-util-vhd') await runTool(['vhd-util', 'create', '-n', file, '-s', String(sizeMiB)]);
  else await runTool(['qemu-img', 'create', '-q', '-f', qemuFormatOf(format), file, `${sizeMiB}M`]);
  chmodSync(file, input.mode);
}

/** Writes an overlay's changes into its base (a created='once' disk's first job keeping what it stored). */
export async function commitOverlay(cow: CowFormat, file: string): Promise<void> {
  if (cow === 'vhd') await runTool(['vhd-util', 'coalesce', '-n', file]);
  else await runTool(['qemu-img', 'commit', '-q', '-f', cow, file]);
}
