import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { readJsonRecord } from '../fsutil/read-json.js';
import { currentBootId, processStartTicks } from './boot-id.js';

/** Who made a job directory: the boot and the prologue process (pid and start time), so reconcile can tell a live prologue from a dead one. */
export const jobOwnerSchema = z.object({
  bootId: z.string().min(1),
  pid: z.number().int().positive(),
  startTicks: z.string(),
  createdAt: z.string(),
});
/** A job directory's owner record. */
export type JobOwner = z.infer<typeof jobOwnerSchema>;

/** The owner record's file in a job directory. */
export function jobOwnerFile(jobDir: string): string {
  return join(jobDir, 'prologue.json');
}

/** Records the running prologue as the owner of the job directory (written right after the directory is made). */
export function writeJobOwner(jobDir: string): void {
  const owner: JobOwner = { bootId: currentBootId(), pid: process.pid, startTicks: processStartTicks(process.pid) ?? '', createdAt: new Date().toISOString() };
  writeFileAtomic(jobOwnerFile(jobDir), JSON.stringify(owner) + '\n', { mode: 0o644 });
}

/** The owner record; undefined when absent or damaged. */
export function readJobOwner(jobDir: string): JobOwner | undefined {
  return readJsonRecord(jobOwnerFile(jobDir), jobOwnerSchema);
}

/** Whether the prologue that made the directory still runs (same pid, same start time, this boot). */
export function ownerAlive(owner: JobOwner, bootId: string): boolean {
  return owner.bootId === bootId && owner.startTicks !== '' && processStartTicks(owner.pid) === owner.startTicks;
}
