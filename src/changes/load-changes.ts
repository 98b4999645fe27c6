import { constants, copyFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { runTool } from '../exec/run-tool.js';
import { handOverToGuest } from '../identity/guest-files.js';
import type { GuestIdentity } from '../identity/guest-identity.js';
import type { CacheContext } from '../images/cache-context.js';
import { checkImageHeader } from '../images/check-image.js';
import { createCowOverlay } from '../images/disk-formats.js';
import { ensureCachedImage } from '../images/ensure-cached.js';
import { fetchImage } from '../images/fetch-image.js';
import { displayUrl } from '../images/image-source.js';
import { baseDigest } from './base-digest.js';
import { copyFromSubmitter, layerIdentity, readTextAsSubmitter, type SubmitterIds } from './as-submitter.js';
import type { ChangesPlan, UrlLayer } from './changes-plan.js';
import { changesRecordSchema, type ChangesRecord } from './changes-record.js';
import { sharedLayerCopy } from './layer-copies.js';

const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
// a record is a few hundred bytes; more is not one
const maxRecordBytes = 65536;

/** What loading a layer needs beyond its plan: the submitter, the guest's identity, the image cache (a layer from a URL). */
export interface LoadChangesContext {
  submitter: SubmitterIds;
  guestIdentity: GuestIdentity;
  maxVirtualBytes: number;
  cache: CacheContext;
}

/**
 * Puts the submitter's saved layer between the disk's base and the job's overlay: its record
 * and the layer are read with the submitter's rights (vbchanges=NAME), or fetched under the
 * user image policy with the layer's hash (vbchanges=URL, through the image cache), into a copy
 * of root's (so the layer itself is never changed, nor read again), which must be made from
 * this very base (its sha256), self-contained (no backing or data file) and within the site's
 * size; it is then attached to the base and the job's overlay remade over it. The copy is the
 * job's own when the job saves changes, else shared by the submitter's jobs from the same layer.
 * Refusals are CHANGES_NOT_FOUND or CHANGES_REFUSED, naming what is wrong.
 */
export async function loadChanges(plan: ChangesPlan, ctx: LoadChangesContext): Promise<void> {
  const load = plan.load;
  if (!load) return;
  const refused = (reason: string) => new VmbatchError('CHANGES_REFUSED', { name: load.name, reason });
  const where = 'url' in load ? displayUrl(load.url) : load.layer;
  const recordWhere = 'url' in load ? displayUrl(load.recordUrl) : load.record;
  // a job that only boots from the layer starts from root's checked copy that the submitter's
  // jobs from this very layer share (copied once, not per job): found by the layer's identity; a
  // job that saves commits into a copy of its own
  const [text, identity] = await Promise.all([
    'url' in load ? fetchRecord(plan, load, ctx.cache) : readTextAsSubmitter(ctx.submitter, load.record, maxRecordBytes),
    plan.save ? undefined : 'url' in load ? `${load.hash.algorithm}:${load.hash.value}` : layerIdentity(ctx.submitter, load.layer),
  ]);
  if (text === undefined) throw new VmbatchError('CHANGES_NOT_FOUND', { name: load.name, file: recordWhere, reason: 'no such file, or you cannot read it' });
  const record = parseRecord(text);
  if (!record) throw refused(`its record ${recordWhere} is damaged (not what a saving job writes)`);
  if (record.target !== plan.target) throw refused(`they are of disk ${record.target}; this template's changes are of ${plan.target}`);
  const digest = await baseDigest(plan.stateDir, plan.base);
  if (record.base.sha256 !== digest) {
    throw refused(
      `they were made from another base image (${record.base.path}, sha256 ${record.base.sha256.slice(0, 16)}…, on ${record.createdAt}); this template's base ${plan.base} is sha256 ${digest.slice(0, 16)}…`,
    );
  }
  const attach = async (file: string) => {
    if ('url' in load) await copyFromCache(plan, load, ctx, file);
    else {
      const copied = await copyFromSubmitter(ctx.submitter, load.layer, file, plan.maxBytes);
      if ('unreadable' in copied) throw new VmbatchError('CHANGES_NOT_FOUND', { name: load.name, file: load.layer, reason: copied.unreadable });
    }
    await checkAndAttach(plan, file, where, ctx.maxVirtualBytes, refused);
  };
  let backing = plan.copy;
  if (identity !== undefined) {
    const name = 'url' in load ? 'url' : load.name;
    backing = await sharedLayerCopy({
      stateDir: plan.stateDir,
      uid: ctx.submitter.uid,
      guestGid: ctx.guestIdentity.gid,
      name,
      identity: `${identity}\n${digest}`,
      base: plan.base,
      deadline: ctx.cache.deadline,
      make: attach,
    });
  } else {
    await attach(plan.copy);
    handOverToGuest([{ file: plan.copy, mode: 0o400 }], ctx.guestIdentity);
  }
  // the job's overlay over it (its size: the layer's, read again from root's checked copy)
  const header = await checkImageHeader(backing, 'qcow2', where, { expectedBacking: plan.base, maxVirtualBytes: ctx.maxVirtualBytes });
  rmSync(plan.overlay, { force: true });
  await createCowOverlay({ cow: 'qcow2', base: backing, baseFormat: 'qcow2', virtualSize: header.virtualSize, file: plan.overlay });
}

// Checks root's new copy of a layer (size, self-contained, the site's limits) and attaches it to
// the base by name only (-u); a refused copy is removed, so nothing can open it
async function checkAndAttach(plan: ChangesPlan, file: string, where: string, maxVirtualBytes: number, refused: (reason: string) => VmbatchError): Promise<void> {
  try {
    if (statSync(file).size > plan.maxBytes) throw refused(`the layer is larger than the site allows (more than ${mib(plan.maxBytes)} MiB)`);
    try {
      await checkImageHeader(file, 'qcow2', where, { maxVirtualBytes });
    } catch (error) {
      // the image's own words (a backing or data file, another format, too large a disk)
      if (isVmbatchError(error) && error.code.startsWith('IMAGE_')) throw refused(error.message);
      throw error;
    }
    await runTool(['qemu-img', 'rebase', '-q', '-u', '-f', 'qcow2', '-b', plan.base, '-F', plan.baseFormat, file]);
  } catch (error) {
    rmSync(file, { force: true });
    throw error;
  }
}

const isGone = (status: number) => status === 404 || status === 410;

// What the policy or the image checks refused is the layer's refusal; a server's trouble stays
// what it is (a transient download error requeues the job)
function asRefusal(error: unknown, load: UrlLayer, prefix: string): unknown {
  if (isVmbatchError(error) && (error.code.startsWith('IMAGE_') || error.code === 'USER_IMAGE_REFUSED'))
    return new VmbatchError('CHANGES_REFUSED', { name: load.name, reason: prefix + error.message });
  return error;
}

function parseRecord(text: string): ChangesRecord | undefined {
  try {
    const parsed = changesRecordSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

// The record beside a layer's URL (NAME.json), under the same policy: every redirect checked,
// a few KiB at most; undefined when the server has none
async function fetchRecord(plan: ChangesPlan, load: UrlLayer, cache: CacheContext): Promise<string | undefined> {
  const file = `${plan.copy}.record`;
  try {
    await fetchImage({
      source: { url: load.recordUrl, hash: undefined, origin: 'submitter', maxBytes: maxRecordBytes, allowedPrefixes: load.allowedPrefixes },
      file,
      mode: 0o600,
      stallTimeoutMs: cache.stallTimeoutMs,
      maxRedirects: cache.maxRedirects,
      caFile: cache.caFile,
      deadline: cache.deadline,
    });
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (isVmbatchError(error, 'DOWNLOAD_HTTP_STATUS') && isGone(error.params.status)) return undefined;
    throw asRefusal(error, load, `its record ${displayUrl(load.recordUrl)}: `);
  } finally {
    rmSync(file, { force: true });
  }
}

// A layer from a URL: into the image cache as the submitter's own entry (its hash checked, its
// header too), then root's copy of that entry in the job directory (the rebase rewrites it)
async function copyFromCache(plan: ChangesPlan, load: UrlLayer, ctx: LoadChangesContext, file: string): Promise<void> {
  const source = {
    url: load.url,
    hash: load.hash,
    origin: 'submitter' as const,
    maxBytes: plan.maxBytes,
    allowedPrefixes: load.allowedPrefixes,
    maxVirtualBytes: load.maxVirtualBytes,
    ownerUid: ctx.submitter.uid,
  };
  let cached;
  try {
    cached = await ensureCachedImage(ctx.cache, source, 'qcow2');
  } catch (error) {
    if (isVmbatchError(error, 'DOWNLOAD_HTTP_STATUS') && isGone(error.params.status))
      throw new VmbatchError('CHANGES_NOT_FOUND', { name: load.name, file: displayUrl(load.url), reason: error.message });
    throw asRefusal(error, load, '');
  }
  copyFileSync(cached.paths.data, file, constants.COPYFILE_EXCL);
}
