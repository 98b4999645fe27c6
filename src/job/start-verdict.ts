import { asDiskFull } from '../errors/disk-full.js';
import { failedJobExitStatus } from '../errors/exit-codes.js';
import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';

/** What a front end does with a job whose start failed: fail it for good, or requeue it (within the retry bound). */
export interface FailedStart {
  action: 'fail' | 'requeue';
  /** the error the submitter reads (RETRIES_EXHAUSTED once a transient error used up the attempts) */
  error: unknown;
  attempt: number;
  maxAttempts: number;
}

/**
 * The fate of a job whose start failed on its `attempt` (1-based): a transient error requeues it
 * while attempts remain; then, and for every other error, it fails for good. Both front ends
 * act on it, each in its batch system's terms.
 */
export function failedStartVerdict(thrown: unknown, attempt: number, maxAttempts: number): FailedStart {
  // a full disk, whatever step hit it (a write, a mkdir, a copy), is transient
  const error = asDiskFull(thrown);
  const transient = error instanceof VmbatchError && error.kind === 'transient';
  if (transient && attempt < maxAttempts) return { action: 'requeue', error, attempt, maxAttempts };
  const reported = transient && maxAttempts > 1 ? new VmbatchError('RETRIES_EXHAUSTED', { attempts: attempt, last: error.message }) : error;
  return { action: 'fail', error: reported, attempt, maxAttempts };
}

/** The catalogue code of an error (INTERNAL for anything else). */
export function errorCodeOf(error: unknown): string {
  return isVmbatchError(error) ? error.code : 'INTERNAL';
}

/** The line after the error that tells the submitter what becomes of a job whose start failed: requeued (attempt a of m), or ended at once with 255. */
export function failedStartLine(jobId: string, verdict: Pick<FailedStart, 'action' | 'attempt' | 'maxAttempts'>): string {
  return verdict.action === 'requeue'
    ? `vmbatch: job ${jobId} is requeued (attempt ${verdict.attempt} of ${verdict.maxAttempts}).`
    : `vmbatch: job ${jobId} does not run: it ends at once with exit status ${failedJobExitStatus}.`;
}
