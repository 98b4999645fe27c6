import type { Config } from '../config/schema.js';
import { guestExitReport } from './guest-exit-report.js';
import { destroyJobGuests, teardownJob } from './teardown.js';
import { retireIdleGuests } from '../warm/retire-pool.js';
import { saveChanges } from '../changes/save-changes.js';
import { jobPaths } from '../state/job-paths.js';
import { readJobStateIfValid } from '../state/job-state.js';

/** What stopping a job found: why its guest had stopped already (when it had), and what was removed. */
export interface StoppedJob {
  /** a guest gone before the epilogue: libvirt's reason, qemu's last words, the console's last lines */
  lost?: { lines: string[]; reason?: string | undefined };
  domain: string;
  /** what became of the job's saved changes (vbsavechanges): for the job's error file */
  notes: string[];
}

/**
 * Ends one job, whichever batch system asked: destroys its guest, tells why a guest that was
 * gone already had stopped (read before the teardown removes the evidence), and removes
 * everything of the job. Idempotent.
 */
export async function stopJob(config: Config, jobId: string): Promise<StoppedJob> {
  const domain = await destroyJobGuests(config, jobId);
  const lost = reportSafely(() => guestExitReport(config, jobId, domain));
  const notes = await saveJobChanges(config, jobId, lost !== undefined);
  const report = await teardownJob(config, jobId, { domain });
  // a pool nobody has used for its idle limit gives its memory back (a job's end is a moment the node is looked at)
  await retireIdleGuests(config).catch(() => undefined);
  return { ...(lost ? { lost } : {}), domain: report.domain, notes };
}

// A job that asked to save its changes (and whose guest got ready and ran to the end): its disk's
// changes become the submitter's layer, before the teardown removes the overlay.
async function saveJobChanges(config: Config, jobId: string, lost: boolean): Promise<string[]> {
  const paths = jobPaths(config.stateDir, jobId);
  const state = readJobStateIfValid(paths.stateFile);
  const changes = state?.changes;
  if (!state || !changes?.save) return [];
  if (state.phase !== 'ready') return [`vmbatch: the guest's changes were not saved as ${changes.save.layer}: the job's guest never got ready`];
  if (lost) return [`vmbatch: the guest's changes were not saved as ${changes.save.layer}: the guest stopped before the job ended`];
  return saveChanges(changes, { submitter: { uid: state.uid, gid: state.gid ?? state.uid }, jobId, jobDir: paths.dir });
}

// The report must never keep the teardown from running.
function reportSafely<T>(report: () => T): T | undefined {
  try {
    return report();
  } catch {
    return undefined;
  }
}
