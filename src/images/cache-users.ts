import { closeSync, openSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ensureDir } from '../fsutil/ensure-dir.js';
import type { EntryPaths } from './cache-entry.js';

/** Who uses a cache entry: `HOST--JOBID`, unique across the nodes that share the cache. */
export function jobRefOf(jobId: string, host = hostname()): string {
  return `${host}--${jobId}`;
}

/** Splits a job reference into host and job id. */
export function parseJobRef(ref: string): { host: string; jobId: string } {
  const at = ref.indexOf('--');
  return { host: ref.slice(0, at), jobId: ref.slice(at + 2) };
}

/** Records that a job uses the entry (done under the entry's lock) and when it was last used. */
export function addEntryUser(paths: EntryPaths, jobRef: string): void {
  ensureDir(paths.users, 0o755);
  closeSync(openSync(join(paths.users, jobRef), 'w', 0o644));
  closeSync(openSync(paths.lastUsed, 'w', 0o644));
  const now = new Date();
  utimesSync(paths.lastUsed, now, now);
}

/** Removes a job's use record; idempotent. */
export function removeEntryUser(paths: EntryPaths, jobRef: string): void {
  rmSync(join(paths.users, jobRef), { force: true });
}

/** The jobs recorded as using the entry. */
export function entryUsers(paths: EntryPaths): string[] {
  try {
    return readdirSync(paths.users).sort();
  } catch {
    return [];
  }
}
