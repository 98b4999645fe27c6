import { rmSync } from 'node:fs';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { createCowOverlay } from '../images/disk-formats.js';
import type { Logger } from '../log/logger.js';
import { openWarmEntry, type WarmEntry } from './warm-entry.js';
import { isWarmPlan, type WarmPlan, type WarmSkipped } from './warm-plan.js';

/** A job's warm start that will be tried: its plan and the saved state it opened. */
export interface WarmStart {
  plan: WarmPlan;
  entry: WarmEntry;
}

/**
 * Opens the saved state a job's warm plan names and makes the job's overlays over its frozen
 * disks. Undefined when the job boots instead: the plan's reason, the state's (none, stale, not
 * root's alone) or a failed overlay, each logged; never an error of the job's.
 */
export async function prepareWarmStart(warm: WarmPlan | WarmSkipped | undefined, jobId: string, log: Logger): Promise<WarmStart | undefined> {
  const opened = openWarmStart(warm, jobId, log);
  if (!opened) return undefined;
  try {
    await createWarmOverlays(opened);
    return opened;
  } catch (error) {
    log.warn('warm start failed, booting', { job: jobId, error: error instanceof Error ? error.message : String(error) });
    for (const o of opened.plan.overlays) rmSync(o.file, { force: true });
    return undefined;
  }
}

// The saved state a job's warm plan names, when it can be used; why it cannot is logged.
function openWarmStart(warm: WarmPlan | WarmSkipped | undefined, jobId: string, log: Logger): WarmStart | undefined {
  if (!warm) return undefined;
  if (!isWarmPlan(warm)) {
    log.info('warm start not used', { job: jobId, reason: warm.skipped });
    return undefined;
  }
  const opened = openWarmEntry(warm.stateDir, warm.entry, warm.key, warm.size);
  if ('skipped' in opened) {
    log.info('warm start not used', { job: jobId, key: warm.key.slice(0, 16), reason: opened.skipped });
    return undefined;
  }
  return { plan: warm, entry: opened.entry };
}

/** Each per-job overlay over its frozen disk (made by root, handed to the guest with the job's other files). */
export async function createWarmOverlays(warm: WarmStart): Promise<void> {
  for (const o of warm.plan.overlays) {
    const frozen = warm.entry.meta.disks.find((d) => d.target === o.target);
    if (!frozen || frozen.file !== o.frozen) throw new VmbatchError('WARM_STATE_UNUSABLE', { path: warm.entry.paths.dir, reason: `it has no frozen disk ${o.frozen}` });
    await createCowOverlay({ cow: 'qcow2', base: frozen.file, baseFormat: 'qcow2', virtualSize: frozen.virtualSize, file: o.file });
  }
}
