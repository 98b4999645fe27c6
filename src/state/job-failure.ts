import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { readJsonRecord } from '../fsutil/read-json.js';

/** Why a job's prologue failed it, left for remoteshell: the job then ends at once with this reason in its error file. */
export const jobFailureSchema = z.object({
  version: z.literal(1),
  jobId: z.string(),
  /** the submitter: only they (and root) are told */
  uid: z.number().int(),
  /** the error catalogue's code (INTERNAL for a fault of vmbatch) */
  code: z.string(),
  /** what becomes of the job: it fails for good, or (Slurm) its task asks for it to be requeued */
  verdict: z.enum(['fail', 'requeue']).default('fail'),
  /** the attempt that failed and how many a job has (config maxAttempts) */
  attempt: z.number().int().positive().optional(),
  maxAttempts: z.number().int().positive().optional(),
  createdAt: z.string(),
});
/** A failed job's record. */
export type JobFailure = z.input<typeof jobFailureSchema>;
/** A failure record as read back (defaults applied). */
export type RecordedJobFailure = z.output<typeof jobFailureSchema>;

/** The failure record's file in a job directory. */
export function jobFailureFile(jobDir: string): string {
  return join(jobDir, 'failure.json');
}

/** Records that the job failed (root's file, world-readable: it holds no more than the code). */
export function writeJobFailure(jobDir: string, failure: Omit<JobFailure, 'version' | 'createdAt'>): void {
  const record: JobFailure = { version: 1, ...failure, createdAt: new Date().toISOString() };
  writeFileAtomic(jobFailureFile(jobDir), JSON.stringify(record) + '\n', { mode: 0o644 });
}

/** The failure record; undefined when the job has none (or it is damaged: then the job state decides). */
export function readJobFailure(jobDir: string): RecordedJobFailure | undefined {
  return readJsonRecord(jobFailureFile(jobDir), jobFailureSchema);
}

/** The file with the failure's whole text, for the submitter alone. */
export function jobFailureTextFile(jobDir: string): string {
  return join(jobDir, 'failure.txt');
}

/**
 * Leaves the failure's whole text (the error with its hint, and the verdict) for the job's task
 * to print where the submitter reads it: the submitter's file, mode 0400, since the text may
 * name their paths and images. Nothing of root's reads it back.
 */
export function writeJobFailureText(jobDir: string, text: string, owner: { uid: number; gid: number }): void {
  writeFileAtomic(jobFailureTextFile(jobDir), text, { mode: 0o400, uid: owner.uid, gid: owner.gid });
}
