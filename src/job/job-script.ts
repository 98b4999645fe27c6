import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { VmbatchError } from '../errors/vmbatch-error.js';

/**
 * The script of a job as the prologue knows it: `batch` (Torque: pbs_mom wrote it before the
 * prologue; it is shipped into the guest), `interactive` (`qsub -I`: a path but no file), or
 * `per-task` (Slurm: each task brings its command, the batch step its script, when it starts).
 */
export const jobScriptSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('batch'), content: z.string() }).strict(),
  z.object({ kind: z.literal('interactive') }).strict(),
  z.object({ kind: z.literal('per-task') }).strict(),
]);
/** The script of a job, or none. */
export type JobScript = z.infer<typeof jobScriptSchema>;

/** Largest job script vmbatch ships into a guest (pbs_mom's own limit is far below). */
export const maxJobScriptBytes = 16 * 1024 * 1024;

/**
 * Reads the job script pbs_mom names. A real pbs_mom passes the path for an interactive job
 * too but never creates the file (torque-contract.md), so a missing file means `qsub -I`.
 * Opened without following a link and only as a regular file: root reads it, its owner is the
 * submitter.
 */
export function readJobScript(path: string): JobScript {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'interactive' };
    throw new VmbatchError('JOB_SCRIPT_UNREADABLE', { path, reason: reasonOf(error) });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new VmbatchError('JOB_SCRIPT_UNREADABLE', { path, reason: 'it is not a regular file' });
    if (st.size > maxJobScriptBytes) throw new VmbatchError('JOB_SCRIPT_UNREADABLE', { path, reason: `it has ${st.size} bytes, more than ${maxJobScriptBytes}` });
    return { kind: 'batch', content: readFileSync(fd, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

function reasonOf(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code === 'ELOOP' ? 'it is a symbolic link' : (e.code ?? e.message);
}
