import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { withFileLock } from '../fsutil/file-lock.js';

// Which start of a Slurm job (its restart count) made the job's directory.
const runFile = (jobDir: string) => join(jobDir, 'slurm-run');

/** Records which start of the job (Slurm's restart count) the job's directory and guest belong to. */
export function writeJobRun(jobDir: string, restartCount: number): void {
  writeFileAtomic(runFile(jobDir), `${restartCount}\n`, { mode: 0o644 });
}

/**
 * Whether the job's directory belongs to a later start of the job than the epilog's own: a
 * requeued job may start again on this node before the epilog of its previous start has run
 * (seen with Slurm 22.05), and that epilog must not tear the new guest down. (The job's lock
 * keeps the two from running at once.)
 */
export function belongsToLaterRun(jobDir: string, restartCount: number): boolean {
  try {
    const recorded = Number(readFileSync(runFile(jobDir), 'utf8').trim());
    return Number.isInteger(recorded) && recorded > restartCount;
  } catch {
    return false;
  }
}

/** The lock that keeps one start or end of a Slurm job at a time on this node (outside the job's directory, which the teardown removes). */
export function jobLockFile(config: Config, jobId: string): string {
  return join(config.stateDir, 'slurm-locks', `${jobId}.lock`);
}

/** Runs a prolog's or an epilog's work on a job under the job's lock, waiting at most as long as a prolog may take. */
export function withJobLock<T>(config: Config, jobId: string, hook: 'prolog' | 'epilog', step: () => Promise<T>): Promise<T> {
  return withFileLock(jobLockFile(config, jobId), { timeoutMs: (config.prologueBudgetSeconds + 60) * 1000, purpose: `the Slurm ${hook} of job ${jobId}` }, step);
}

/** Removes the job's lock once its last epilog tore everything down (a waiter then takes a fresh one). */
export function removeJobLock(config: Config, jobId: string): void {
  rmSync(jobLockFile(config, jobId), { force: true });
}
