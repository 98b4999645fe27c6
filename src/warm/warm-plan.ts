import { createHash } from 'node:crypto';
import type { DomainTemplate } from '../domain/parse-template.js';
import { renderDomain, type DomainRendering } from '../domain/render-domain.js';
import { children, textOf } from '../domain/xml-tree.js';
import type { DiskPlan } from '../images/disk-plan.js';
import { diskFilePath } from '../state/job-paths.js';
import { warmEntryPaths, type WarmEntryPaths } from './warm-paths.js';

/** How a job starts from a saved state instead of a boot: plain values, performed by startFromWarmState. */
export interface WarmPlan {
  /** sha256 of the guest as the saved state has it (canonicalWarmXml) */
  key: string;
  /** the state directory the entry is in (every directory up to it must be root's alone) */
  stateDir: string;
  entry: WarmEntryPaths;
  /** the job's domain as the saved guest has it, with the job's context ISO in the CD-ROM drive */
  domainXml: string;
  /** what `vmbatch warm build` boots: the CD-ROM drive empty, or (cloud-init) holding the build's seed */
  buildXml: string;
  /** the guest as a pool keeps it waiting: the CD-ROM drive empty, as the state was saved */
  waitingXml: string;
  /** the template's context style: a cloud-init guest is built with a seed that starts the warm-start agent, and its jobs get a vmbatch-style context */
  style: 'vmbatch' | 'cloud-init';
  /** per-job overlays over the entry's frozen disks (in place of the template's bases) */
  overlays: { target: string; file: string; frozen: string; format: string }[];
  /** the files whose change makes a saved state stale: bases, kernel, initrd, QEMU, libvirtd */
  fingerprintFiles: string[];
  /** the guest's size: a saved state is per size (`vmbatch warm build TEMPLATE --vcpus N --memory MIB`) */
  size: { vcpus: number; memoryMiB: number };
}

/** Why a job of a warm-start template boots cold all the same (the prologue logs it). */
export interface WarmSkipped {
  skipped: string;
}

// where the guest's per-job files stand in the XML a key is made from
const placeholderDir = '/vmbatch-warm';
const defaultEmulator = '/usr/bin/qemu-system-x86_64';
// the daemon that runs QEMU: a new libvirt may save and restore differently
const libvirtDaemons = ['/usr/sbin/libvirtd', '/usr/sbin/virtqemud'];

/**
 * Plans a warm start for a guest rendered as `rendering` (the cold one: per-job names and
 * files): the XML of the guest a saved state must have been made from (its key), the job's
 * XML for the restore, and its overlays over the frozen disks. `nonce`: the boot line's
 * `vmbatch.warm=` (a build's readiness nonce; a restore's guest never reads it).
 */
export function planWarmStart(input: { template: DomainTemplate; rendering: DomainRendering; disks: DiskPlan[]; stateDir: string; nonce?: string }): WarmPlan | WarmSkipped {
  const { template, rendering, disks } = input;
  if (rendering.shares?.length) return { skipped: 'the job shares directories over virtiofs, which a saved state cannot have' };
  if (rendering.extraDisks?.length) return { skipped: "the job's runtime environments come on disks of their own, which the saved guest does not have" };
  if (rendering.staticAddress) return { skipped: "the job's static address is set on the guest's kernel line, at boot" };
  const context = disks.find((d) => d.kind === 'context');
  if (!context) return { skipped: 'the template has no context CD-ROM' };
  const style = template.disks.find((d) => d.vbpreparecdrom)?.vbpreparecdrom?.style ?? 'vmbatch';
  const unsupported = disks.find((d) => d.kind === 'disk' && (d.access === 'overlay' ? d.base.kind !== 'file' : d.base.kind === 'download' || d.base.kind === 'empty'));
  if (unsupported) return { skipped: `disk ${unsupported.target} is not a local file (a job's own image, a fetched or a created disk)` };
  // the saved guest's CD-ROM drive is empty (a build has no job); a job's restore puts its ISO there
  const warmRendering = (r: DomainRendering, nonce: string, iso: 'empty' | 'job'): DomainRendering => ({
    ...r,
    diskFiles: iso === 'job' ? r.diskFiles : new Map([...r.diskFiles].filter(([index]) => index !== context.index)),
    kernelParams: { ...r.kernelParams, warm: nonce },
  });
  const placeholders: DomainRendering = {
    ...rendering,
    domainName: 'vbwarm',
    diskFiles: new Map(
      disks.flatMap((d) => (d.kind === 'disk' ? [[d.index, { file: d.access === 'overlay' ? diskFilePath({ dir: placeholderDir }, d.target, d.format) : d.file, format: d.format }] as const] : [])),
    ),
    consoleFile: `${placeholderDir}/console.log`,
    sshSocket: rendering.sshSocket && `${placeholderDir}/ssh.sock`,
    loginConsoleSocket: rendering.loginConsoleSocket && `${placeholderDir}/console.sock`,
    guestIdentity: rendering.guestIdentity && { uid: 0, gid: 0 },
  };
  const os = children(template.tree, 'os')[0];
  const bootFiles = os ? ['kernel', 'initrd'].flatMap((name) => children(os, name).map((e) => textOf(e))) : [];
  const devices = children(template.tree, 'devices')[0];
  const emulatorEl = devices && children(devices, 'emulator')[0];
  const emulator = (emulatorEl && textOf(emulatorEl)) || defaultEmulator;
  // the overlays' bases are not in the XML (the overlays are): the key names them too
  const bases = disks.flatMap((d) => (d.kind === 'disk' && d.access === 'overlay' && d.base.kind === 'file' ? [`${d.target}=${d.base.path}`] : []));
  const key = createHash('sha256')
    .update(renderDomain(template, warmRendering(placeholders, '0', 'empty')))
    .update(`\n${bases.join('\n')}`)
    .digest('hex');
  const entry = warmEntryPaths(input.stateDir, key);
  return {
    key,
    stateDir: input.stateDir,
    entry,
    domainXml: renderDomain(template, warmRendering(rendering, input.nonce ?? '0', 'job')),
    buildXml: renderDomain(template, warmRendering(rendering, input.nonce ?? '0', style === 'cloud-init' ? 'job' : 'empty')),
    waitingXml: renderDomain(template, warmRendering(rendering, input.nonce ?? '0', 'empty')),
    style,
    overlays: disks.flatMap((d) =>
      d.kind === 'disk' && d.access === 'overlay' ? [{ target: d.target, file: d.file, frozen: diskFilePath({ dir: entry.dir }, d.target, d.format), format: d.format }] : [],
    ),
    size: { vcpus: rendering.size?.vcpus ?? template.size.vcpus.default.value, memoryMiB: rendering.size?.memoryMiB ?? template.size.memoryMiB.default.value },
    fingerprintFiles: [...disks.flatMap((d) => (d.kind !== 'disk' ? [] : d.access === 'overlay' && d.base.kind === 'file' ? [d.base.path] : [d.file])), ...bootFiles, emulator, ...libvirtDaemons],
  };
}

/** Whether a plan's warm part is a plan (not a reason to boot cold). */
export function isWarmPlan(warm: WarmPlan | WarmSkipped | undefined): warm is WarmPlan {
  return warm !== undefined && 'key' in warm;
}
