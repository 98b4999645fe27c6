import { closeSync, existsSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { jobPaths } from './job-paths.js';
import { readTrimmedText } from '../fsutil/read-text.js';

/**
 * Reserves one of `candidates` (in the order given) for a job: a reservation is a file named
 * after the candidate, holding the job id, created with O_EXCL (atomic across processes), so two
 * prologues never get the same one. Reservations of jobs whose state directory is gone (a job
 * that ended without its epilogue) are taken over. `usable` can still turn a reserved candidate
 * down (e.g. a port another program listens on). Undefined when none is free.
 */
export async function reserveOne(stateDir: string, kind: string, jobId: string, candidates: string[], usable: (c: string) => Promise<boolean> = async () => true): Promise<string | undefined> {
  const dir = join(stateDir, kind);
  ensureDir(dir, 0o755);
  for (const candidate of candidates) {
    const file = join(dir, candidate);
    if (!tryCreate(file, jobId)) {
      if (!isStale(stateDir, file)) continue;
      rmSync(file, { force: true });
      if (!tryCreate(file, jobId)) continue;
    }
    if (await usable(candidate)) return candidate;
    rmSync(file, { force: true });
  }
  return undefined;
}

/** Releases every reservation of `kind` a job holds (idempotent). */
export function releaseAll(stateDir: string, kind: string, jobId: string): void {
  const dir = join(stateDir, kind);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const file = join(dir, name);
    if (readTrimmedText(file) === jobId) rmSync(file, { force: true });
  }
}

function tryCreate(file: string, jobId: string): boolean {
  try {
    const fd = openSync(file, 'wx', 0o644);
    writeSync(fd, jobId);
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}


// A reservation is stale when the job that holds it has no state directory any more (its
// prologue creates that directory before reserving, its epilogue removes both).
function isStale(stateDir: string, file: string): boolean {
  const owner = readTrimmedText(file);
  return owner !== undefined && owner !== '' && !existsSync(jobPaths(stateDir, owner).dir);
}
