import { closeSync, constants, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isVmbatchError } from '../errors/vmbatch-error.js';
import { runTool } from '../exec/run-tool.js';
import { checkImageHeader } from '../images/check-image.js';
import { writeAsSubmitter, type SubmitterIds } from './as-submitter.js';
import type { ChangesPlan } from './changes-plan.js';
import type { ChangesRecord } from './changes-record.js';
import { baseDigest } from './base-digest.js';

const mib = (bytes: number) => (bytes / 1048576).toFixed(1);

/**
 * Saves what a job changed on its disk as the submitter's layer (after its guest is gone, before
 * the teardown): the overlay, whose header must still name what the prologue put under it, is
 * committed into root's copy of the layer the job booted from (if any), and that top image is
 * written relative to the base,
 * compressed and self-contained (`qemu-img convert -c -B`, then the base's name dropped) into
 * root's job directory; within the site's size it is then written into the submitter's
 * changes directory by the submitter's own process, with its record. Returns the lines for the
 * job's error file: what was saved, or why nothing was. Never throws for the job's sake.
 */
export async function saveChanges(plan: ChangesPlan, ctx: { submitter: SubmitterIds; jobId: string; jobDir: string }): Promise<string[]> {
  const save = plan.save;
  if (!save) return [];
  const out = join(ctx.jobDir, 'changes-saved.qcow2');
  const notSaved = (why: string) => [`vmbatch: the guest's changes were not saved as ${save.layer}: ${why}`];
  try {
    if (!existsSync(plan.overlay)) return notSaved('the job ended before its guest had a disk');
    // the overlay (and the copy under it) were the guest's qemu's to write: a header naming any
    // other file than what the prologue put under it is not followed
    await checkImageHeader(plan.overlay, 'qcow2', plan.overlay, { expectedBacking: plan.load ? plan.copy : plan.base });
    if (plan.load) await checkImageHeader(plan.copy, 'qcow2', plan.copy, { expectedBacking: plan.base });
    // `convert -B` copies what the top image holds (it takes the layers under it for the base's):
    // a job that booted from a layer first commits its overlay into root's copy of that layer,
    // so that one image holds old and new over the base
    if (plan.load) await runTool(['qemu-img', 'commit', '-q', '-f', 'qcow2', '-d', plan.overlay], { timeoutMs: 3_600_000 });
    const top = plan.load ? plan.copy : plan.overlay;
    rmSync(out, { force: true });
    await runTool(['qemu-img', 'convert', '-q', '-c', '-f', 'qcow2', '-O', 'qcow2', '-B', plan.base, '-F', plan.baseFormat, top, out], { timeoutMs: 3_600_000 });
    await runTool(['qemu-img', 'rebase', '-q', '-u', '-f', 'qcow2', '-b', '', out]);
    const size = statSync(out).size;
    if (size > plan.maxBytes) return notSaved(`they are ${mib(size)} MiB, more than the site allows (${mib(plan.maxBytes)} MiB)`);
    const record: ChangesRecord = {
      version: 1,
      name: save.name,
      template: plan.template,
      target: plan.target,
      base: { path: plan.base, sha256: await baseDigest(plan.stateDir, plan.base) },
      createdAt: new Date().toISOString(),
      jobId: ctx.jobId,
      sizeBytes: size,
    };
    const fd = openSync(out, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      await writeAsSubmitter(ctx.submitter, save.dir, [
        { path: save.layer, fd },
        { path: save.record, text: `${JSON.stringify(record, null, 2)}\n` },
      ]);
    } finally {
      closeSync(fd);
    }
    return [`vmbatch: saved the guest's changes as ${save.layer} (${mib(size)} MiB over ${plan.base})`];
  } catch (error) {
    if (isVmbatchError(error, 'TOOL_FAILED')) return notSaved(error.params.stderr.trim().split('\n').pop() || `${error.params.argv[0]} exited with ${error.params.exitCode}`);
    if (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('IMAGE_')) return notSaved(error.message);
    return notSaved(error instanceof Error ? error.message : String(error));
  } finally {
    rmSync(out, { force: true });
  }
}
