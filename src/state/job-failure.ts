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
  createdAt: z.string(),
});
/** A failed job's record. */
export type JobFailure = z.infer<typeof jobFailureSchema>;

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
export function readJobFailure(jobDir: string): JobFailure | undefined {
  return readJsonRecord(jobFailureFile(jobDir), jobFailureSchema);
}
