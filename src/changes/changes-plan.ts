import { basename } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import type { DomainTemplate } from '../domain/parse-template.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import type { DiskPlan } from '../images/disk-plan.js';
import type { JobRequest } from '../job/resources.js';
import type { JobPaths } from '../state/job-paths.js';
import { changesFiles } from './changes-record.js';

const layerSchema = z.object({ name: z.string(), layer: z.string(), record: z.string() });

/** A job's saved changes, as plain values (kept in the job's state for the epilogue): the disk they are of, the layer it boots from and the one it saves. */
export const changesPlanSchema = z.object({
  template: z.string(),
  /** the disk: its target, its per-job overlay, the base under it */
  target: z.string(),
  overlay: z.string(),
  base: z.string(),
  baseFormat: z.string(),
  /** root's copy of the submitter's layer in the job directory, between the base and the overlay */
  copy: z.string(),
  /** the largest layer booted or saved (bytes) */
  maxBytes: z.number().int().positive(),
  /** the node's state directory (the base images' digests are kept there) */
  stateDir: z.string(),
  /** boot from this layer of the submitter's (vbchanges) */
  load: layerSchema.optional(),
  /** save what the job changed as this layer (vbsavechanges), into `dir` */
  save: layerSchema.extend({ dir: z.string() }).optional(),
});
/** A job's saved changes plan. */
export type ChangesPlan = z.infer<typeof changesPlanSchema>;

/**
 * Plans a job's saved changes (vbchanges, vbsavechanges): the template must be one the site
 * allows them for (changes.templates), and they are of its first writable disk over a site or
 * cached base (a qcow2 overlay). Undefined when the job asks for neither. Nothing is read yet.
 */
export function planChanges(input: { config: Config; template: DomainTemplate; disks: DiskPlan[]; request: JobRequest; home: string; paths: JobPaths }): ChangesPlan | undefined {
  const { config, template, request } = input;
  if (!request.vbchanges && !request.vbsavechanges) return undefined;
  const name = basename(template.file).replace(/\.xml$/, '');
  const refuse = (reason: string) => new VmbatchError('CHANGES_NOT_ALLOWED', { template: template.file, reason });
  const allowed = config.changes.templates;
  if (allowed && !allowed.includes(name)) throw refuse(`the site allows them for ${allowed.length ? allowed.join(', ') : 'no template'}`);
  const disk = input.disks.find((d): d is Extract<DiskPlan, { kind: 'disk' }> => d.kind === 'disk' && d.access === 'overlay' && (d.base.kind === 'file' || d.base.kind === 'shared'));
  if (!disk) throw refuse('it has no writable disk over a base image');
  if (disk.cow !== 'qcow2') throw refuse(`its disks are ${disk.cow} overlays (saved changes are qcow2 layers: QEMU or KVM)`);
  const base = disk.base.kind === 'file' ? disk.base.path : (disk.base as { cacheFile: string }).cacheFile;
  const files = (n: string) => changesFiles(input.home, config.changes.dir, n);
  return {
    template: template.file,
    target: disk.target,
    overlay: disk.file,
    base,
    baseFormat: disk.baseFormat,
    copy: `${input.paths.dir}/changes-${disk.target}.qcow2`,
    maxBytes: config.changes.maxSizeMiB * 1048576,
    stateDir: config.stateDir,
    ...(request.vbchanges ? { load: { name: request.vbchanges, ...files(request.vbchanges) } } : {}),
    ...(request.vbsavechanges ? { save: { name: request.vbsavechanges, ...files(request.vbsavechanges) } } : {}),
  };
}
