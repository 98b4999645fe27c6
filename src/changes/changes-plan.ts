import { basename } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import type { DomainTemplate } from '../domain/parse-template.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import type { DiskPlan } from '../images/disk-plan.js';
import { hashSpecSchema, parseHashText } from '../images/hash-spec.js';
import { displayUrl } from '../images/image-source.js';
import { checkUserImageUrl, loadUserImagePolicy } from '../images/user-image-policy.js';
import type { JobRequest } from '../job/resources.js';
import type { JobPaths } from '../state/job-paths.js';
import { changesFiles } from './changes-record.js';

const layerSchema = z.object({ name: z.string(), layer: z.string(), record: z.string() });
/** A layer from an http(s) URL (vbchanges=URL): fetched into the image cache under the user image policy, its record beside it (NAME.json). */
const urlLayerSchema = z.object({
  name: z.string(),
  url: z.string(),
  recordUrl: z.string(),
  hash: hashSpecSchema,
  /** the policy's prefixes every redirect must stay under, its largest virtual size (bytes) */
  allowedPrefixes: z.array(z.string()),
  maxVirtualBytes: z.number().int().positive(),
});

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
  /** boot from this layer of the submitter's (vbchanges=NAME), or from a URL (vbchanges=URL) */
  load: z.union([layerSchema, urlLayerSchema]).optional(),
  /** save what the job changed as this layer (vbsavechanges), into `dir` */
  save: layerSchema.extend({ dir: z.string() }).optional(),
});
/** A job's saved changes plan. */
export type ChangesPlan = z.infer<typeof changesPlanSchema>;
/** A layer to boot from an http(s) URL. */
export type UrlLayer = z.infer<typeof urlLayerSchema>;

/**
 * Plans a job's saved changes (vbchanges, vbsavechanges): the template must be one the site
 * allows them for (changes.templates), and they are of its first writable disk over a site or
 * cached base (a qcow2 overlay) that no DISK context is written into. A layer from a URL must
 * come with its hash and pass the user image policy. Undefined when the job asks for neither.
 * Nothing is read yet.
 */
export function planChanges(input: { config: Config; template: DomainTemplate; disks: DiskPlan[]; request: JobRequest; home: string; paths: JobPaths }): ChangesPlan | undefined {
  const { config, template, request } = input;
  if (request.vbchangeshash !== undefined && !/^https?:\/\//i.test(request.vbchanges ?? '')) {
    throw new VmbatchError('RESOURCE_INVALID', { problems: ['vbchangeshash is given without a vbchanges URL (a layer of your own is named, not hashed)'] });
  }
  if (!request.vbchanges && !request.vbsavechanges) return undefined;
  const name = basename(template.file).replace(/\.xml$/, '');
  const refuse = (reason: string) => new VmbatchError('CHANGES_NOT_ALLOWED', { template: template.file, reason });
  const allowed = config.changes.templates;
  if (allowed && !allowed.includes(name)) throw refuse(`the site allows them for ${allowed.length ? allowed.join(', ') : 'no template'}`);
  const disk = input.disks.find((d): d is Extract<DiskPlan, { kind: 'disk' }> => d.kind === 'disk' && d.access === 'overlay' && (d.base.kind === 'file' || d.base.kind === 'shared'));
  if (!disk) throw refuse('it has no writable disk over a base image');
  if (disk.cow !== 'qcow2') throw refuse(`its disks are ${disk.cow} overlays (saved changes are qcow2 layers: QEMU or KVM)`);
  // DISK writes the context with debugfs into a file system of that disk, which would then be
  // the submitter's (their layer under it): root never parses a file system a submitter wrote
  const written = template.vb.prepareMethod === 'DISK' ? template.vb.partitions.find((p) => p.dev === disk.target) : undefined;
  if (written)
    throw refuse(
      `it contextualizes by DISK, writing into partition ${written.partition} of disk ${disk.target}, the disk the changes are of (root's tools would read a file system your changes wrote); use a CDROM or ROOTSSH template`,
    );
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
    ...(request.vbchanges
      ? { load: /^https?:\/\//i.test(request.vbchanges) ? urlLayerOf(config, request.vbchanges, request.vbchangeshash) : { name: request.vbchanges, ...files(request.vbchanges) } }
      : {}),
    ...(request.vbsavechanges ? { save: { name: request.vbsavechanges, ...files(request.vbsavechanges) } } : {}),
  };
}

// A layer at a URL: under the user image policy's locations, with its hash, NAME.qcow2 with its
// record NAME.json beside it
function urlLayerOf(config: Config, url: string, hashText: string | undefined): UrlLayer {
  const refused = (reason: string) => new VmbatchError('CHANGES_REFUSED', { name: url, reason });
  const policyPath = config.images.userImagePolicy;
  const policy = loadUserImagePolicy(policyPath);
  if (!policy) throw refused(`this node has no user image policy (${policyPath}), which layers from a URL follow`);
  const checked = checkUserImageUrl(url, policy.allow);
  if (checked instanceof VmbatchError) throw refused((checked.params as { reason: string }).reason);
  if (hashText === undefined) throw refused('a layer from a URL needs its hash: add :vbchangeshash=sha256:HEX to -l other=');
  const hash = parseHashText(hashText);
  if (!hash) throw refused(`vbchangeshash '${hashText}' is not ALGO:HEX with ALGO one of md5, sha1, sha256, sha512`);
  const path = new URL(checked).pathname;
  if (!/\/[A-Za-z0-9][A-Za-z0-9._-]*\.qcow2$/.test(path)) throw refused('the URL must name a NAME.qcow2 file (its record NAME.json beside it, as a saving job writes them)');
  // the record beside it, with the same query (a token that opens one opens the other)
  const record = new URL(checked);
  record.pathname = path.replace(/\.qcow2$/, '.json');
  const recordUrl = record.href;
  return { name: displayUrl(checked), url: checked, recordUrl, hash, allowedPrefixes: policy.allow, maxVirtualBytes: policy.maxVirtualSizeMiB * 1048576 };
}

/** The plan as the job's state keeps it (0644, readable by every local user): a URL's query, often an access token, is left out. */
export function changesForState(plan: ChangesPlan): ChangesPlan {
  const load = plan.load;
  if (!load || !('url' in load)) return plan;
  return { ...plan, load: { ...load, url: displayUrl(load.url), recordUrl: displayUrl(load.recordUrl) } };
}
