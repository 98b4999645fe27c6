import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { attemptsFile } from './job-paths.js';

/** Counts one more prologue attempt of a job and returns its number (1 for the first). */
export function recordAttempt(stateDir: string, jobId: string): number {
  const file = attemptsFile(stateDir, jobId);
  ensureDir(dirname(file), 0o755);
  let previous = 0;
  try {
    previous = Number.parseInt(readFileSync(file, 'utf8'), 10) || 0;
  } catch {
    // first attempt
  }
  writeFileAtomic(file, `${previous + 1}\n`, { mode: 0o644 });
  return previous + 1;
}

/** Forgets a job's attempts (when it ends for good). */
export function clearAttempts(stateDir: string, jobId: string): void {
  rmSync(attemptsFile(stateDir, jobId), { force: true });
}
