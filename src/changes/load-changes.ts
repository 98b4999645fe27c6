import { rmSync } from 'node:fs';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { runTool } from '../exec/run-tool.js';
import { handOverToGuest } from '../identity/guest-files.js';
import type { GuestIdentity } from '../identity/guest-identity.js';
import { checkImageHeader } from '../images/check-image.js';
import { createCowOverlay } from '../images/disk-formats.js';
import { baseDigest } from './base-digest.js';
import { copyFromSubmitter, readTextAsSubmitter, type SubmitterIds } from './as-submitter.js';
import type { ChangesPlan } from './changes-plan.js';
import { changesRecordSchema } from './changes-record.js';

const mib = (bytes: number) => (bytes / 1048576).toFixed(1);

/**
 * Puts the submitter's saved layer between the disk's base and the job's overlay: its record
 * and the layer are read with the submitter's rights into root's copy in the job directory
 * (so the layer itself is never changed, nor read again), which must be made from this very
 * base (its sha256), self-contained (no backing or data file) and within the site's size; it
 * is then attached to the base and the job's overlay remade over it. Refusals are
 * CHANGES_NOT_FOUND or CHANGES_REFUSED, naming what is wrong.
 */
export async function loadChanges(plan: ChangesPlan, ctx: { submitter: SubmitterIds; guestIdentity: GuestIdentity; maxVirtualBytes: number }): Promise<void> {
  const load = plan.load;
  if (!load) return;
  const refused = (reason: string) => new VmbatchError('CHANGES_REFUSED', { name: load.name, reason });
  const text = await readTextAsSubmitter(ctx.submitter, load.record, 65536);
  if (text === undefined) throw new VmbatchError('CHANGES_NOT_FOUND', { name: load.name, file: load.record, reason: 'no such file, or you cannot read it' });
  let parsed;
  try {
    parsed = changesRecordSchema.safeParse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) throw refused(`its record ${load.record} is damaged (not what a saving job writes)`);
  const record = parsed.data;
  if (record.target !== plan.target) throw refused(`they are of disk ${record.target}; this template's changes are of ${plan.target}`);
  const digest = await baseDigest(plan.stateDir, plan.base);
  if (record.base.sha256 !== digest) {
    throw refused(`they were made from another base image (${record.base.path}, sha256 ${record.base.sha256.slice(0, 16)}…, on ${record.createdAt}); this template's base ${plan.base} is sha256 ${digest.slice(0, 16)}…`);
  }
  const copied = await copyFromSubmitter(ctx.submitter, load.layer, plan.copy, plan.maxBytes);
  if ('unreadable' in copied) throw new VmbatchError('CHANGES_NOT_FOUND', { name: load.name, file: load.layer, reason: copied.unreadable });
  try {
    if (copied.bytes > plan.maxBytes) throw refused(`the layer is larger than the site allows (more than ${mib(plan.maxBytes)} MiB)`);
    let header;
    try {
      header = await checkImageHeader(plan.copy, 'qcow2', load.layer, { maxVirtualBytes: ctx.maxVirtualBytes });
    } catch (error) {
      // the image's own words (a backing or data file, another format, too large a disk)
      if (error instanceof VmbatchError && error.code.startsWith('IMAGE_')) throw refused(error.message);
      throw error;
    }
    // root's copy, checked: attached to the base by name only (-u), then the overlay over it
    await runTool(['qemu-img', 'rebase', '-q', '-u', '-f', 'qcow2', '-b', plan.base, '-F', plan.baseFormat, plan.copy]);
    rmSync(plan.overlay, { force: true });
    await createCowOverlay({ cow: 'qcow2', base: plan.copy, baseFormat: 'qcow2', virtualSize: header.virtualSize, file: plan.overlay });
    handOverToGuest([{ file: plan.copy, mode: 0o400 }], ctx.guestIdentity);
  } catch (error) {
    // a refused layer is not left in the job's directory for anything to open
    rmSync(plan.copy, { force: true });
    throw error;
  }
}
