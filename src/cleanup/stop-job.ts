import type { Config } from '../config/schema.js';
import { guestExitReport } from './guest-exit-report.js';
import { destroyJobGuests, teardownJob } from './teardown.js';
import { retireIdleGuests } from '../warm/retire-pool.js';

/** What stopping a job found: why its guest had stopped already (when it had), and what was removed. */
export interface StoppedJob {
  /** a guest gone before the epilogue: libvirt's reason, qemu's last words, the console's last lines */
  lost?: { lines: string[]; reason?: string | undefined };
  domain: string;
}

/**
 * Ends one job, whichever batch system asked: destroys its guest, tells why a guest that was
 * gone already had stopped (read before the teardown removes the evidence), and removes
 * everything of the job. Idempotent.
 */
export async function stopJob(config: Config, jobId: string): Promise<StoppedJob> {
  const domain = await destroyJobGuests(config, jobId);
  const lost = reportSafely(() => guestExitReport(config, jobId, domain));
  const report = await teardownJob(config, jobId, { domain });
  // a pool nobody has used for its idle limit gives its memory back (a job's end is a moment the node is looked at)
  await retireIdleGuests(config).catch(() => undefined);
  return { ...(lost ? { lost } : {}), domain: report.domain };
}

// The report must never keep the teardown from running.
function reportSafely<T>(report: () => T): T | undefined {
  try {
    return report();
  } catch {
    return undefined;
  }
}
