import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { currentBootId } from './boot-id.js';
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
  // the boot id on the second line lets reconcile drop counters of an earlier boot
  writeFileAtomic(file, `${previous + 1}\n${currentBootId()}\n`, { mode: 0o644 });
  return previous + 1;
}

/** Forgets a job's attempts (when it ends for good). */
export function clearAttempts(stateDir: string, jobId: string): void {
  rmSync(attemptsFile(stateDir, jobId), { force: true });
}

/** One attempt counter as `vmbatch reconcile` sees it. */
export interface AttemptRecord {
  jobId: string;
  file: string;
  /** undefined for a counter written before boot ids were recorded */
  bootId: string | undefined;
  mtimeMs: number;
}

/** Every attempt counter of the node. */
export function listAttempts(stateDir: string): AttemptRecord[] {
  const dir = dirname(attemptsFile(stateDir, 'x'));
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  const found: AttemptRecord[] = [];
  for (const jobId of names) {
    if (jobId.startsWith('.')) continue;
    const file = join(dir, jobId);
    try {
      const bootId = readFileSync(file, 'utf8').split('\n')[1]?.trim();
      found.push({ jobId, file, bootId: bootId || undefined, mtimeMs: statSync(file).mtimeMs });
    } catch {
      // cleared meanwhile
    }
  }
  return found;
}
